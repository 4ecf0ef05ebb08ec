"""The Redis fixes: FLUSHDB and BGSAVE, each previewed with what it would touch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding, Preview
from bot.executors.params import url_for_display
from bot.executors.redis.connection import call
from bot.executors.redis.params import RedisBgsave, RedisFlushDb

_MIB = 1024 * 1024


def _db_of(client: Redis) -> int:
    return int(client.connection_pool.connection_kwargs.get("db") or 0)


async def preview_flushdb(_client: None, action: RedisFlushDb, target: ServiceBinding) -> Preview:
    async def look(client: Redis) -> tuple[int, int, dict[str, Any]]:
        return _db_of(client), int(await client.dbsize()), await client.info("memory")

    (db, keys, memory), _ = await call(action.url, action.timeout_s, look)
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


async def flushdb(_client: None, action: RedisFlushDb, target: ServiceBinding) -> CheckResult:
    async def flush(client: Redis) -> tuple[int, int]:
        # DBSIZE and FLUSHDB in one transaction: the count is exactly what was deleted.
        async with client.pipeline(transaction=True) as pipe:
            pipe.dbsize()
            pipe.flushdb()
            keys, _ = await pipe.execute()
        return _db_of(client), int(keys)

    (db, keys), _ = await call(action.url, action.timeout_s, flush)
    summary = f"deleted {keys} keys from db {db}"
    return CheckResult(
        status="ok",
        summary=summary,
        output=f"redis {url_for_display(action.url)} FLUSHDB: {summary}",
        findings=[
            Finding(name="redis.deleted_keys", value=keys, subject=url_for_display(action.url))
        ],
    )


async def preview_bgsave(_client: None, action: RedisBgsave, target: ServiceBinding) -> Preview:
    async def look(client: Redis) -> tuple[datetime, dict[str, Any]]:
        return await client.lastsave(), await client.info("persistence")

    (last, persistence), _ = await call(action.url, action.timeout_s, look)
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


async def bgsave(_client: None, action: RedisBgsave, target: ServiceBinding) -> CheckResult:
    await call(action.url, action.timeout_s, lambda r: r.bgsave())
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
