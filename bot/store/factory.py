"""Chooses the store backend: Redis when given a URL, else the embedded SQLite file."""

from __future__ import annotations

from pathlib import Path

from bot.store.base import Store
from bot.store.bounded import DEFAULT_TIMEOUT_S, BoundedStore
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore


def open_store(redis_url: str | None, sqlite_path: str | Path) -> Store:
    """Redis when a URL is given (shared by replicas), else the embedded SQLite file."""
    if redis_url:
        return RedisStore(redis_url)
    return SqliteStore(sqlite_path)


def open_bounded_store(
    redis_url: str | None, sqlite_path: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Store:
    """The store the bot runs on: as open_store, every call given at most `timeout_s`."""
    return BoundedStore(open_store(redis_url, sqlite_path), timeout_s)
