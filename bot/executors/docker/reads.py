"""The Docker reads: `docker ps`, `inspect`, `stats` and the environment, as findings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import docker

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import dig
from bot.executors.docker.client import DockerClient, DockerError, Obj
from bot.executors.docker.containers import (
    MIB,
    PROJECT_LABEL,
    SERVICE_LABEL,
    State,
    container_name,
    inspect,
    labels_of,
)
from bot.executors.docker.exec import read_exec
from bot.executors.docker.logs import read_logs
from bot.executors.docker.params import DockerContainer, DockerEnv, DockerInspect, DockerStats
from bot.redact import redact, redact_value

BUSY_PERCENT = 90.0


async def read_container(
    client: DockerClient, action: DockerContainer, target: ServiceBinding
) -> CheckResult:
    name = container_name(action.container, target)
    try:
        attrs = await inspect(client, name)
    except DockerError as exc:
        if not exc.missing:
            raise
        # "docker ps shows no api container" is itself a runbook symptom: an answer, not a failure.
        return CheckResult(
            status="problem",
            summary=f"no container named '{name}'",
            findings=[Finding(name="docker.exists", value=False, subject=name)],
        )
    state = State.of(attrs)
    facts: dict[str, Any] = {
        "docker.exists": True,
        "docker.state": state.status,
        "docker.running": state.running,
        "docker.oom_killed": state.oom_killed,
        "docker.exit_code": state.exit_code,
        "docker.restart_count": state.restart_count,
        "docker.health": state.health,
    }
    if state.ran_seconds is not None:
        # "Starts but immediately exits" (a port conflict) or ran for days, then crashed.
        facts["docker.ran_seconds"] = state.ran_seconds
    subject = state.name
    output = [f"{key.removeprefix('docker.')}: {value}" for key, value in facts.items()]
    output += [f"started: {state.started_at}", f"finished: {state.finished_at}"]
    health_log = dig(attrs, "State", "Health", "Log") or []
    if health_log:
        last = health_log[-1]
        output.append(f"last health check: exit {last.get('ExitCode')}: {last.get('Output', '')}")
    return CheckResult(
        status="ok" if state.healthy else "problem",
        summary=state.line(),
        output=redact("\n".join(output).rstrip()),
        findings=[Finding(name=k, value=v, subject=subject) for k, v in facts.items()],
    )


def port_lines(attrs: Obj) -> list[str]:
    """'8000/tcp -> 127.0.0.1:49153' for each published port (the live binding when running)."""
    live = dig(attrs, "NetworkSettings", "Ports") or {}
    configured = dig(attrs, "HostConfig", "PortBindings") or {}
    lines = []
    for port, bindings in sorted((live or configured).items()):
        for binding in bindings or []:
            host = binding.get("HostIp") or "0.0.0.0"
            lines.append(f"{port} -> {host}:{binding.get('HostPort') or '(any)'}")
    return lines


def restart_policy(attrs: Obj) -> str:
    policy = dig(attrs, "HostConfig", "RestartPolicy") or {}
    name = str(policy.get("Name") or "no")
    retries = int(policy.get("MaximumRetryCount") or 0)
    return f"{name}:{retries}" if name == "on-failure" and retries else name


async def read_inspect(
    client: DockerClient, action: DockerInspect, target: ServiceBinding
) -> CheckResult:
    attrs = await inspect(client, container_name(action.container, target))
    state = State.of(attrs)
    memory = int(dig(attrs, "HostConfig", "Memory") or 0)
    image = str(dig(attrs, "Config", "Image") or attrs.get("Image") or "")
    policy = restart_policy(attrs)
    ports = port_lines(attrs)
    labels = labels_of(attrs)
    subject = state.name
    findings = [
        Finding(name="docker.image", value=image, subject=subject),
        Finding(name="docker.memory_limit_mi", value=round(memory / MIB, 1), subject=subject),
        Finding(name="docker.restart_policy", value=policy, subject=subject),
        *(Finding(name="docker.port", value=line, subject=subject) for line in ports),
    ]
    for label, finding in ((PROJECT_LABEL, "compose_project"), (SERVICE_LABEL, "compose_service")):
        if label in labels:
            findings.append(Finding(name=f"docker.{finding}", value=labels[label], subject=subject))
    limit = f"{memory / MIB:g} MiB" if memory else "unlimited"
    output = [
        f"image: {image}",
        f"state: {state.short()}",
        f"memory limit: {limit}",
        f"restart policy: {policy}",
        "ports: " + (", ".join(ports) or "none published"),
        *(f"label {k}: {redact_value(k, v)}" for k, v in sorted(labels.items())),
    ]
    summary = f"{subject}: image {image}, memory limit {limit}, restart policy {policy}"
    if ports:
        summary += f", ports {', '.join(ports)}"
    return CheckResult(
        status="ok", summary=summary, output=redact("\n".join(output)), findings=findings
    )


async def read_env(client: DockerClient, action: DockerEnv, target: ServiceBinding) -> CheckResult:
    attrs = await inspect(client, container_name(action.container, target))
    subject = State.of(attrs).name
    rows = []
    for entry in dig(attrs, "Config", "Env") or []:
        key, _, value = str(entry).partition("=")
        if not action.prefixes or key.startswith(tuple(action.prefixes)):
            rows.append(f"{key}={redact_value(key, value)}")
    which = f" starting with {', '.join(action.prefixes)}" if action.prefixes else ""
    return CheckResult(
        status="problem" if action.prefixes and not rows else "ok",
        summary=f"{subject}: {len(rows)} variable(s){which}",
        # Also over the whole text: a registered secret may sit in a variable of any name.
        output=redact("\n".join(rows)),
        findings=[Finding(name="env.count", value=len(rows), subject=subject)],
    )


def _cpu_percent(stats: Obj) -> float:
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    used = (dig(cpu, "cpu_usage", "total_usage") or 0) - (dig(pre, "cpu_usage", "total_usage") or 0)
    system = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    cpus = cpu.get("online_cpus") or len(dig(cpu, "cpu_usage", "percpu_usage") or []) or 1
    return round(used / system * cpus * 100, 1) if used > 0 and system > 0 else 0.0


def _memory(stats: Obj) -> tuple[float, float]:
    """(used MiB, percent of the limit) as `docker stats` counts them: without page cache."""
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    # cgroup v1 names it total_inactive_file, v2 inactive_file.
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0)) or 0
    used = max(0, int(memory.get("usage") or 0) - int(cache))
    limit = int(memory.get("limit") or 0)
    return round(used / MIB, 1), round(used * 100 / limit, 1) if limit else 0.0


async def read_stats(
    client: DockerClient, action: DockerStats, target: ServiceBinding
) -> CheckResult:
    name = container_name(action.container, target)
    state = State.of(await inspect(client, name))
    if not state.running:
        return CheckResult(
            status="problem",
            summary=f"{state.line()}: not running, no stats",
            findings=[Finding(name="docker.running", value=False, subject=state.name)],
        )

    def work(engine: docker.DockerClient) -> Obj:
        stats: Obj = engine.api.stats(name, stream=False)
        return stats

    # Without one_shot the engine waits for a second sample, so CPU has a delta to compute from.
    stats = await client.call(work, what=f"stats of container {name}", slack=3)
    cpu = _cpu_percent(stats)
    used_mi, memory_percent = _memory(stats)
    limit_mi = round(int(dig(stats, "memory_stats", "limit") or 0) / MIB, 1)
    findings = [
        Finding(name="docker.cpu_percent", value=cpu, subject=state.name),
        Finding(name="docker.memory_percent", value=memory_percent, subject=state.name),
        Finding(name="docker.memory_mi", value=used_mi, subject=state.name),
    ]
    busy = cpu >= BUSY_PERCENT or memory_percent >= BUSY_PERCENT
    summary = (
        f"{state.name}: CPU {cpu:g}%, memory {used_mi:g} MiB of {limit_mi:g} MiB "
        f"({memory_percent:g}%)"
    )
    return CheckResult(
        status="problem" if busy else "ok",
        summary=summary,
        output=summary,
        findings=findings,
    )


Reader = Callable[[DockerClient, Any, ServiceBinding], Awaitable[CheckResult]]
READERS: dict[str, Reader] = {
    "docker.container": read_container,
    "docker.logs": read_logs,
    "docker.stats": read_stats,
    "docker.inspect": read_inspect,
    "docker.env": read_env,
    "docker.exec": read_exec,
}
