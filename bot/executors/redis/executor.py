"""RedisExecutor: the Redis checks and fixes as tables, each over a fresh connection."""

from __future__ import annotations

from redis.exceptions import RedisError

from bot.executors.base import ReadAction, WriteAction
from bot.executors.redis.checks import config_get, info, ping
from bot.executors.redis.connection import Unreachable, reason
from bot.executors.redis.fixes import bgsave, flushdb, preview_bgsave, preview_flushdb
from bot.executors.redis.params import command_shown
from bot.executors.tabled import Fix, Read, TabledExecutor

READERS: dict[str, Read[None]] = {
    "redis.ping": ping,
    "redis.info": info,
    "redis.config": config_get,
}
FIXES = {
    "redis.flushdb": Fix(preview_flushdb, flushdb),
    "redis.bgsave": Fix(preview_bgsave, bgsave),
}


def _failed(action: ReadAction | WriteAction, exc: Exception) -> str:
    return f"{command_shown(action)}: {reason(exc)}"


class RedisExecutor(TabledExecutor[None]):
    """Runs Redis checks and fixes; no connection outlives its action."""

    def __init__(self) -> None:
        super().__init__(
            "Redis", None, READERS, FIXES, failure=(Unreachable, RedisError), reason=_failed
        )
