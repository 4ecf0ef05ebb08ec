"""Params of the Redis actions: `redis-cli ping`, `info`, `config get`, FLUSHDB, BGSAVE."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.executors.base import ReadAction, WriteAction
from bot.executors.params import RedisUrl, url_for_display

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


def command_shown(action: ReadAction | WriteAction) -> str:
    """How summaries name an action: `redis URL COMMAND`, the URL without its password."""
    if isinstance(action, RedisInfo):
        command = f"INFO {action.section}"
    elif isinstance(action, RedisConfig):
        command = f"CONFIG GET {action.pattern}"
    else:
        command = {"redis.ping": "PING", "redis.flushdb": "FLUSHDB"}.get(action.type, "BGSAVE")
    return f"redis {url_for_display(getattr(action, 'url', ''))} {command}"
