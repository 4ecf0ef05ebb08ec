"""The deadline on store calls: answers pass through, a silent store becomes one clear error."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store.base import Record
from bot.store.bounded import NOT_ANSWERING, BoundedStore, backend
from bot.store.factory import open_bounded_store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore


class SilentStore(SqliteStore):
    """A real store whose reads never answer, as a frozen server's would not."""

    async def load(self, id: str) -> Record | None:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_answers_pass_through(tmp_path: Path) -> None:
    store = open_bounded_store(None, tmp_path / "incidents.db", timeout_s=5.0)
    try:
        assert isinstance(backend(store), SqliteStore)
        await store.insert(Record("INC-0001", "open", 1, "{}"))
        assert await store.load("INC-0001") == Record("INC-0001", "open", 1, "{}")
        assert [r.id for r in await store.list("open")] == ["INC-0001"]
        assert await store.next_number() == 1
        assert await store.claim("k", "me", 10.0)
        await store.release("k", "me")
    finally:
        await store.close()


async def test_a_silent_store_is_reported_within_the_bound(tmp_path: Path) -> None:
    store = BoundedStore(SilentStore(tmp_path / "incidents.db"), timeout_s=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=NOT_ANSWERING):
            await store.load("INC-0001")
        assert time.monotonic() - started < 2.0
        await store.ping()
    finally:
        await store.close()


async def test_redis_url_picks_redis_under_the_bound(tmp_path: Path) -> None:
    store = open_bounded_store("redis://127.0.0.1:1/0", tmp_path / "incidents.db")
    try:
        assert isinstance(backend(store), RedisStore)
        with pytest.raises(StoreError):
            await store.ping()
    finally:
        await store.close()


class SilentWrites(SqliteStore):
    """A real store whose writes never answer."""

    async def replace(self, record: Record) -> Record:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_write_cut_off_says_it_may_still_land(tmp_path: Path) -> None:
    store = BoundedStore(SilentWrites(tmp_path / "incidents.db"), timeout_s=0.2)
    try:
        with pytest.raises(StoreError, match="may still be saved"):
            await store.replace(Record("INC-0001", "open", 1, "{}"))
    finally:
        await store.close()
