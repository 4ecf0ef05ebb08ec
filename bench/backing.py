"""The shared store under the fleet: one redis-server, or a Sentinel setup that can fail over.

Behind Sentinel there are two replicas, so that once one is promoted the other still confirms
the record writes the bot waits on (`WAIT 1`, the default behind Sentinel).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from tests.support.redis_sentinel import RedisSentinel
from tests.support.redis_server import RedisServer

StoreKind = Literal["sentinel", "redis"]
SENTINEL_REPLICAS = 2


@dataclass
class Backing:
    """Where the replicas keep their state, and the server whose commands are counted."""

    kind: StoreKind
    url: str
    server: RedisServer | None = None
    sentinel: RedisSentinel | None = None

    def primary_url(self) -> str:
        """A plain URL of the server taking writes now (after a failover, the promoted one)."""
        if self.sentinel is not None:
            return f"redis://127.0.0.1:{self.sentinel.primary_port()}/0"
        return self.url


@contextmanager
def backing(kind: StoreKind) -> Iterator[Backing]:
    """A fresh store of that kind until the block ends."""
    if kind == "sentinel":
        with RedisSentinel(replicas=SENTINEL_REPLICAS) as sentinel:
            yield Backing(kind, sentinel.url, sentinel=sentinel)
    else:
        with RedisServer() as server:
            yield Backing(kind, server.url, server=server)
