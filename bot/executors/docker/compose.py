"""docker.compose_scale: `docker-compose up --scale` for containers found by their compose labels.

New containers are made as compose makes them, from the config of a running container of the
service (image, command, environment, compose labels, limits, ports, networks) with the next
container number and the name project-service-N; scaling down removes the highest numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import docker

from bot.config import ServiceBinding
from bot.executors.common import dig
from bot.executors.docker.client import DockerClient, DockerError, Obj
from bot.executors.docker.containers import (
    NUMBER_LABEL,
    ONEOFF_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    State,
    inspect,
    labels_of,
    name_of,
)
from bot.executors.docker.creation import create_like
from bot.executors.docker.params import DockerComposeScale
from bot.executors.docker.plan import Plan

STOP_TIMEOUT_S = 10


@dataclass(frozen=True)
class ComposeService:
    project: str
    service: str

    def __str__(self) -> str:
        return f"compose service {self.service} of project {self.project}"


async def _service_of(
    client: DockerClient, action: DockerComposeScale, target: ServiceBinding
) -> ComposeService:
    project = action.project or target.compose_project
    service = action.service or target.compose_service
    if project and service:
        return ComposeService(project, service)
    if not target.container:
        raise DockerError("no compose project/service given and the binding names no container")
    labels = labels_of(await inspect(client, target.container))
    project = project or labels.get(PROJECT_LABEL, "")
    service = service or labels.get(SERVICE_LABEL, "")
    if not project or not service:
        raise DockerError(
            f"container {target.container} has no compose labels ({PROJECT_LABEL}, "
            f"{SERVICE_LABEL}): it is not part of a compose service, so it cannot be scaled"
        )
    return ComposeService(project, service)


def _number(attrs: Obj) -> int:
    try:
        return int(labels_of(attrs).get(NUMBER_LABEL, "0"))
    except ValueError:
        return 0


async def containers_of(client: DockerClient, of: ComposeService) -> list[Obj]:
    """The service's containers (one-off `run` containers excluded), by container number."""

    def work(engine: docker.DockerClient) -> list[Obj]:
        wanted = [f"{PROJECT_LABEL}={of.project}", f"{SERVICE_LABEL}={of.service}"]
        found = engine.api.containers(all=True, filters={"label": wanted})
        attrs = [engine.api.inspect_container(c["Id"]) for c in found]
        return [a for a in attrs if labels_of(a).get(ONEOFF_LABEL, "False") != "True"]

    listed = await client.call(work, what=str(of))
    return sorted(listed, key=lambda a: (_number(a), name_of(a)))


def _fixed_host_ports(attrs: Obj) -> list[str]:
    bindings = dig(attrs, "HostConfig", "PortBindings") or {}
    return [
        f"{port} -> {b.get('HostIp') or '0.0.0.0'}:{b['HostPort']}"
        for port, listed in sorted(bindings.items())
        for b in listed or []
        if str(b.get("HostPort") or "0") != "0"
    ]


def _new_name(first: Obj, of: ComposeService, number: int) -> str:
    # Compose v1 named containers project_service_1, v2 project-service-1: follow what is there.
    sep = "_" if name_of(first).startswith(f"{of.project}_{of.service}_") else "-"
    return f"{of.project}{sep}{of.service}{sep}{number}"


def _listing(of: ComposeService, lines: list[str]) -> str:
    return "\n".join([f"{of.project}/{of.service}: {len(lines)} container(s)", *lines])


@dataclass(frozen=True)
class _Step:
    """One direction of scaling: its effect in words, the containers after it, the call."""

    effect: str
    after: list[str]
    run: Callable[[docker.DockerClient], None]
    seconds: float = 0


def _up(of: ComposeService, current: list[Obj], lines: list[str], wanted: int) -> _Step:
    # Compose makes replicas from the service's config; the closest the engine keeps is a
    # running container's, not one that crashed or was stopped by hand.
    first = next((a for a in reversed(current) if State.of(a).status == "running"), current[0])
    fixed = _fixed_host_ports(first)
    if fixed:
        raise DockerError(
            f"{name_of(first)} publishes a fixed host port ({', '.join(fixed)}): "
            "copies would conflict over it, so the service cannot be scaled up"
        )
    top = max(_number(a) for a in current)
    numbers = list(range(top + 1, top + 1 + wanted - len(current)))
    names = [_new_name(first, of, n) for n in numbers]

    def run(engine: docker.DockerClient) -> None:
        for name, number in zip(names, numbers, strict=True):
            labels = {**labels_of(first), NUMBER_LABEL: str(number)}
            created = create_like(engine, first, name, labels=labels, aliases=[of.service])
            engine.api.start(created)

    return _Step(
        effect=f"creates and starts {', '.join(names)} (copies of {name_of(first)})",
        after=lines + [f"  {n}: new, copy of {name_of(first)}" for n in names],
        run=run,
        seconds=5 * len(names),
    )


def _down(current: list[Obj], lines: list[str], wanted: int) -> _Step:
    leaving = list(reversed(current))[: len(current) - wanted]
    doomed = [name_of(a) for a in leaving]
    # Each container's own grace period, as compose's stop_grace_period set it.
    grace = [int(dig(a, "Config", "StopTimeout") or STOP_TIMEOUT_S) for a in leaving]

    def run(engine: docker.DockerClient) -> None:
        for name, seconds in zip(doomed, grace, strict=True):
            engine.api.stop(name, timeout=seconds)
            engine.api.remove_container(name)

    return _Step(
        effect=f"stops and removes {', '.join(doomed)}",
        after=[line for line in lines if line.split(":")[0].strip() not in doomed],
        run=run,
        seconds=sum(grace),
    )


def _nothing(engine: docker.DockerClient) -> None:
    return None


async def plan_scale(
    client: DockerClient, action: DockerComposeScale, target: ServiceBinding
) -> Plan:
    of = await _service_of(client, action, target)
    current = await containers_of(client, of)
    if not current:
        raise DockerError(f"no containers of {of}; nothing to copy")
    lines = [f"  {name_of(a)}: {State.of(a).short()}" for a in current]
    wanted = action.replicas
    if wanted > len(current):
        step = _up(of, current, lines, wanted)
    elif wanted < len(current):
        step = _down(current, lines, wanted)
    else:
        step = _Step(f"it already has {wanted}, nothing changes", lines, _nothing)

    async def state_after(client: DockerClient) -> str:
        now = await containers_of(client, of)
        shown = ", ".join(f"{name_of(a)} {State.of(a).status}" for a in now) or "none"
        return f"{len(now)} container(s): {shown}"

    return Plan(
        title=f"scale {of} from {len(current)} to {wanted} container(s): {step.effect}",
        before=_listing(of, lines),
        after=_listing(of, step.after),
        run=step.run,
        done=f"scaled {of} to {wanted} container(s)",
        slack=step.seconds,
        state_after=state_after,
    )
