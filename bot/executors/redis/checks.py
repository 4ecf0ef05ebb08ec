"""The Redis checks: PING, INFO SECTION and CONFIG GET, with facts as findings."""

from __future__ import annotations

from typing import Any

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import reached, unreachable
from bot.executors.params import url_for_display
from bot.executors.redis.connection import Unreachable, call
from bot.executors.redis.params import RedisConfig, RedisInfo, RedisPing, command_shown
from bot.redact import redact, redact_value

_MIB = 1024 * 1024
# A pattern matching more settings than this is a listing to read, not facts to match on.
_CONFIG_FINDINGS = 50


async def ping(_client: None, action: RedisPing, target: ServiceBinding) -> CheckResult:
    where = url_for_display(action.url)
    try:
        _, latency_ms = await call(action.url, action.timeout_s, lambda r: r.ping())
    except Unreachable as exc:
        # For PING an unreachable server is the answer, not a failure to check.
        return unreachable(command_shown(action), str(exc), "redis.ping", where)
    return reached(
        f"{command_shown(action)}: PONG in {latency_ms} ms",
        [
            Finding(name="redis.ping", value=True, subject=where),
            Finding(name="redis.latency_ms", value=latency_ms, subject=where),
        ],
    )


async def info(_client: None, action: RedisInfo, target: ServiceBinding) -> CheckResult:
    where = url_for_display(action.url)
    info, latency_ms = await call(action.url, action.timeout_s, lambda r: r.info(action.section))
    facts = _facts(info)
    findings = [
        Finding(name="redis.ping", value=True, subject=where),
        Finding(name="redis.latency_ms", value=latency_ms, subject=where),
        *(Finding(name=name, value=value, subject=where) for name, value in facts.items()),
    ]
    link = facts.get("redis.master_link_status")
    gist = _gist(facts) or f"{len(info)} fields"
    return CheckResult(
        status="problem" if link is not None and link != "up" else "ok",
        summary=redact(f"{command_shown(action)}: {gist}"),
        output="\n".join(_lines(info)),
        findings=findings,
    )


async def config_get(_client: None, action: RedisConfig, target: ServiceBinding) -> CheckResult:
    where = url_for_display(action.url)
    shown = command_shown(action)
    try:
        settings, _ = await call(
            action.url, action.timeout_s, lambda r: r.config_get(action.pattern)
        )
    except (AttributeError, TypeError, ValueError):
        # redis-py's reply parser trips on a proxy or stand-in that answers CONFIG oddly.
        settings = None
    if not isinstance(settings, dict):
        return CheckResult(status="error", summary=f"{shown}: the server did not answer a mapping")
    # Shown values only: a password never leaves this function, not even in a finding.
    values = {str(k): redact_value(str(k), str(v)) for k, v in sorted(settings.items())}
    findings = []
    if len(values) <= _CONFIG_FINDINGS:
        findings = [
            Finding(name=f"redis.config.{name}", value=value, subject=where)
            for name, value in values.items()
        ]
    if not values:
        gist = "no setting matches"
    elif len(values) <= 3:
        gist = ", ".join(f"{name} {value!r}" for name, value in values.items())
    else:
        gist = f"{len(values)} settings"
    return CheckResult(
        status="ok",
        summary=redact(f"{shown}: {gist}"),
        output="\n".join(f"{name}: {value}" for name, value in values.items()),
        findings=findings,
    )


def _facts(info: dict[str, Any]) -> dict[str, str | int | float]:
    facts: dict[str, str | int | float] = {}
    if "role" in info:
        facts["redis.role"] = str(info["role"])
    if "connected_slaves" in info:
        facts["redis.connected_slaves"] = int(info["connected_slaves"])
    if "master_link_status" in info:
        facts["redis.master_link_status"] = str(info["master_link_status"])
    if "used_memory" in info:
        used = int(info["used_memory"])
        facts["redis.used_memory_mi"] = round(used / _MIB, 1)
        maxmemory = int(info.get("maxmemory") or 0)
        if maxmemory > 0:
            facts["redis.used_memory_percent"] = round(used * 100 / maxmemory, 1)
    return facts


def _gist(facts: dict[str, str | int | float]) -> str:
    parts = []
    if "redis.role" in facts:
        parts.append(f"role {facts['redis.role']}")
    if "redis.connected_slaves" in facts:
        parts.append(f"{facts['redis.connected_slaves']} replica(s)")
    if "redis.master_link_status" in facts:
        parts.append(f"master link {facts['redis.master_link_status']}")
    if "redis.used_memory_mi" in facts:
        parts.append(f"used memory {facts['redis.used_memory_mi']} MiB")
    if "redis.used_memory_percent" in facts:
        parts.append(f"{facts['redis.used_memory_percent']}% of maxmemory")
    return ", ".join(parts)


def _lines(info: dict[str, Any]) -> list[str]:
    """`key: value` lines as `redis-cli info` prints them; nested values (keyspace) as k=v."""
    lines = []
    for key, value in info.items():
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        lines.append(f"{key}: {redact_value(str(key), str(value))}")
    return lines
