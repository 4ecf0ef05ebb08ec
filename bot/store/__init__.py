"""The incident store: embedded SQLite by default, Redis when REDIS_URL is set."""

from __future__ import annotations

from bot.store.base import Record, Store
from bot.store.factory import open_store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore

__all__ = ["Record", "RedisStore", "SqliteStore", "Store", "open_store"]
