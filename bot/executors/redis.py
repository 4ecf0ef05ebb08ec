"""Redis checks (ping, info, config get) and fixes (FLUSHDB, BGSAVE) as API calls."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding, Preview, ReadAction, WriteAction
from bot.executors.params import RedisUrl, url_for_display
from bot.redact import redact, redact_value, register_secret

_MIB = 1024 * 1024
# A pattern matching more settings than this is a listing to read, not facts to match on.
_CONFIG_FINDINGS = 50

InfoSection = Literal[
    "server", "clients", "memory", "persistence", "stats", "replication", "keyspace"
]


class RedisPing(ReadAction):
    """PING the server: is it up and answering."""

    type: Literal["redis.ping"]
    url: RedisUrl
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class RedisInfo(ReadAction):
    """One INFO section, with the replication and memory facts as findings."""

    type: Literal["redis.info"]
    url: RedisUrl
    section: InfoSection = "replication"
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class RedisConfig(ReadAction):
    """`redis-cli config get PATTERN`: the server's settings, passwords redacted."""

    type: Literal["redis.config"]
    url: RedisUrl
    pattern: str = Field(default="*", pattern=r"^[A-Za-z0-9*?_-]{1,64}$")
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class RedisFlushDb(WriteAction):
    """`redis-cli FLUSHDB`: delete every key of the URL's database. Mark the step destructive."""

    type: Literal["redis.flushdb"]
    url: RedisUrl
    timeout_s: float = Field(default=10.0, gt=0, le=60)


class RedisBgsave(WriteAction):
    """`redis-cli BGSAVE`: start a background snapshot to the server's RDB file."""

    type: Literal["redis.bgsave"]
    url: RedisUrl
    timeout_s: float = Field(default=10.0, gt=0, le=60)


READS = (RedisPing, RedisInfo, RedisConfig)
WRITES = (RedisFlushDb, RedisBgsave)


class _Unreachable(Exception):
    """The server could not be reached or did not answer in time; str() is the reason."""


class RedisExecutor:
    """Runs Redis checks and fixes, each over a fresh connection closed right after."""

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult:
        if isinstance(action, RedisPing):
            return await _ping(action)
        if isinstance(action, RedisInfo):
            return await _info(action)
        if isinstance(action, RedisConfig):
            return await _config(action)
        return CheckResult(status="error", summary=f"{action.type}: not a Redis check")

    async def preview(self, action: WriteAction, target: ServiceBinding) -> Preview:
        if isinstance(action, RedisFlushDb):
            planned = _preview_flushdb(action)
        elif isinstance(action, RedisBgsave):
            planned = _preview_bgsave(action)
        else:
            reason = f"{action.type}: not a Redis fix"
            return Preview(summary=reason, error=reason)
        try:
            return await planned
        except (_Unreachable, RedisError) as exc:
            reason = _failed(_command_shown(action), exc).summary
            return Preview(summary=f"cannot preview {action.type}: {reason}", error=reason)

    async def apply(self, action: WriteAction, target: ServiceBinding) -> CheckResult:
        if isinstance(action, RedisFlushDb):
            applied = _flushdb(action)
        elif isinstance(action, RedisBgsave):
            applied = _bgsave(action)
        else:
            return CheckResult(status="error", summary=f"{action.type}: not a Redis fix")
        try:
            return await applied
        except (_Unreachable, RedisError) as exc:
            return _failed(_command_shown(action), exc)


async def _ping(action: RedisPing) -> CheckResult:
    where = url_for_display(action.url)
    try:
        _, latency_ms = await _call(action.url, action.timeout_s, lambda r: r.ping())
    except _Unreachable as exc:
        # For PING an unreachable server is the answer, not a failure to check.
        summary = redact(f"redis {where} PING: {exc}")
        return CheckResult(
            status="problem",
            summary=summary,
            output=summary,
            findings=[Finding(name="redis.ping", value=False, subject=where)],
        )
    except RedisError as exc:
        return _failed(f"redis {where} PING", exc)
    summary = f"redis {where} PING: PONG in {latency_ms} ms"
    return CheckResult(
        status="ok",
        summary=summary,
        output=summary,
        findings=[
            Finding(name="redis.ping", value=True, subject=where),
            Finding(name="redis.latency_ms", value=latency_ms, subject=where),
        ],
    )


async def _info(action: RedisInfo) -> CheckResult:
    where = url_for_display(action.url)
    shown = f"redis {where} INFO {action.section}"
    try:
        info, latency_ms = await _call(
            action.url, action.timeout_s, lambda r: r.info(action.section)
        )
    except (_Unreachable, RedisError) as exc:
        return _failed(shown, exc)
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
        summary=redact(f"{shown}: {gist}"),
        output="\n".join(_lines(info)),
        findings=findings,
    )


async def _config(action: RedisConfig) -> CheckResult:
    where = url_for_display(action.url)
    shown = f"redis {where} CONFIG GET {action.pattern}"
    try:
        settings, _ = await _call(
            action.url, action.timeout_s, lambda r: r.config_get(action.pattern)
        )
    except (_Unreachable, RedisError) as exc:
        return _failed(shown, exc)
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


def _command_shown(action: WriteAction) -> str:
    command = "FLUSHDB" if isinstance(action, RedisFlushDb) else "BGSAVE"
    return f"redis {url_for_display(getattr(action, 'url', ''))} {command}"


def _db_of(client: Redis) -> int:
    return int(client.connection_pool.connection_kwargs.get("db") or 0)


async def _preview_flushdb(action: RedisFlushDb) -> Preview:
    async def look(client: Redis) -> tuple[int, int, dict[str, Any]]:
        return _db_of(client), int(await client.dbsize()), await client.info("memory")

    (db, keys, memory), _ = await _call(action.url, action.timeout_s, look)
    where = url_for_display(action.url)
    used_mib = round(int(memory.get("used_memory", 0)) / _MIB, 1)
    if keys == 0:
        # Nothing to delete: approving it would only look like a fix.
        reason = f"db {db} on {where} has no keys; FLUSHDB would change nothing"
        return Preview(summary=reason, error=reason)
    return Preview(
        summary=f"FLUSHDB on {where} would delete {keys} keys ({used_mib} MiB used)",
        before=f"db {db}: {keys} keys\nused_memory: {used_mib} MiB",
        after=f"db {db}: 0 keys (other databases untouched)",
    )


async def _flushdb(action: RedisFlushDb) -> CheckResult:
    async def flush(client: Redis) -> tuple[int, int]:
        # DBSIZE and FLUSHDB in one transaction: the count is exactly what was deleted.
        async with client.pipeline(transaction=True) as pipe:
            pipe.dbsize()
            pipe.flushdb()
            keys, _ = await pipe.execute()
        return _db_of(client), int(keys)

    (db, keys), _ = await _call(action.url, action.timeout_s, flush)
    summary = f"deleted {keys} keys from db {db}"
    return CheckResult(
        status="ok",
        summary=summary,
        output=f"redis {url_for_display(action.url)} FLUSHDB: {summary}",
        findings=[
            Finding(name="redis.deleted_keys", value=keys, subject=url_for_display(action.url))
        ],
    )


async def _preview_bgsave(action: RedisBgsave) -> Preview:
    async def look(client: Redis) -> tuple[datetime, dict[str, Any]]:
        return await client.lastsave(), await client.info("persistence")

    (last, persistence), _ = await _call(action.url, action.timeout_s, look)
    where = url_for_display(action.url)
    changes = int(persistence.get("rdb_changes_since_last_save", 0))
    status = str(persistence.get("rdb_last_bgsave_status", "unknown"))
    saved = _when(last)
    if int(persistence.get("rdb_bgsave_in_progress", 0)):
        reason = f"a background save is already in progress on {where} (last save {saved})"
        return Preview(summary=reason, error=reason)
    return Preview(
        summary=(
            f"BGSAVE on {where} would snapshot {changes} change(s) since the last save"
            f" ({saved}, {status})"
        ),
        before=(
            f"last save: {saved}\nrdb_changes_since_last_save: {changes}\n"
            f"rdb_last_bgsave_status: {status}"
        ),
        after="a background save writes the RDB file; the server keeps serving",
    )


async def _bgsave(action: RedisBgsave) -> CheckResult:
    await _call(action.url, action.timeout_s, lambda r: r.bgsave())
    return CheckResult(
        status="ok",
        summary="background save started",
        output=f"redis {url_for_display(action.url)} BGSAVE: background save started",
    )


def _when(moment: datetime) -> str:
    """A LASTSAVE time in UTC; redis-py returns it as a naive local datetime."""
    aware = moment.astimezone(UTC) if moment.tzinfo is None else moment
    ago = max(0, int((datetime.now(UTC) - aware).total_seconds()))
    return f"{aware:%Y-%m-%d %H:%M:%S} UTC, {ago}s ago"


async def _call(
    url: str, timeout_s: float, command: Callable[[Redis], Awaitable[Any]]
) -> tuple[Any, int]:
    """Run one command over a fresh connection; returns its reply and latency in ms."""
    register_secret(urlsplit(url).password)
    client = Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        # One attempt: the timeout bounds the whole check, and a retry would only hide a flap.
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )
    try:
        started = time.perf_counter()
        async with asyncio.timeout(timeout_s):
            reply = await command(client)
        return reply, round((time.perf_counter() - started) * 1000)
    except (TimeoutError, RedisTimeoutError):
        raise _Unreachable(f"timed out after {timeout_s:g}s") from None
    except RedisConnectionError as exc:
        if isinstance(exc, AuthenticationError):
            raise
        raise _Unreachable(_connection_reason(exc)) from None
    finally:
        await client.aclose()


def _failed(shown: str, exc: Exception) -> CheckResult:
    if isinstance(exc, AuthenticationError) or (
        isinstance(exc, ResponseError) and str(exc).startswith(("NOAUTH", "WRONGPASS"))
    ):
        reason = "authentication failed"
    else:
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
    return CheckResult(status="error", summary=redact(f"{shown}: {reason}"))


def _connection_reason(exc: BaseException) -> str:
    """Name the root cause redis-py wraps, without its errno prefix."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host name does not resolve"
        cause = cause.__cause__ or cause.__context__
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
