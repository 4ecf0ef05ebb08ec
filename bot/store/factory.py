"""Chooses the store backend: Redis when given a URL, else the embedded SQLite file."""

from __future__ import annotations

from pathlib import Path

from bot.store.base import Store
from bot.store.bounded import DEFAULT_TIMEOUT_S, BoundedStore
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore


def open_store(
    redis_url: str | None, sqlite_path: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Store:
    """Redis when a URL is given (shared by replicas), else the embedded SQLite file; every
    call bounded by `timeout_s`."""
    inner: Store = RedisStore(redis_url) if redis_url else SqliteStore(sqlite_path)
    return BoundedStore(inner, timeout_s)
