"""Redis checks (ping, info, config get) and fixes (FLUSHDB, BGSAVE) as API calls."""

from __future__ import annotations

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

__all__ = [
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
