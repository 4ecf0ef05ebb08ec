"""Redis checks (ping, info, config get) and fixes (FLUSHDB, BGSAVE) as API calls."""

from __future__ import annotations

from bot.executors.base import Backend
from bot.executors.redis.executor import RedisExecutor
from bot.executors.redis.params import (
    READS,
    WRITES,
    InfoSection,
    RedisBgsave,
    RedisConfig,
    RedisFlushDb,
    RedisInfo,
    RedisPing,
)

BACKEND = Backend("redis", READS, WRITES, lambda clients: RedisExecutor())

__all__ = [
    "BACKEND",
    "READS",
    "WRITES",
    "InfoSection",
    "RedisBgsave",
    "RedisConfig",
    "RedisExecutor",
    "RedisFlushDb",
    "RedisInfo",
    "RedisPing",
]
