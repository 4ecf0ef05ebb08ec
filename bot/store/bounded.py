"""A deadline on every store call, so a store that stops answering cannot hold a Slack ack."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from bot.errors import StoreError
from bot.store.base import Record, Store

# Well inside Slack's 3 s ack deadline, with room for a read before the ack and Bolt's own work.
DEFAULT_TIMEOUT_S = 1.0
NOT_ANSWERING = "the incident store is not answering"

T = TypeVar("T")


class BoundedStore:
    """Any Store, each call given at most `timeout_s`; past it a StoreError saying so.

    A write cut off by the deadline may still land once the store wakes, and the error says so:
    every write is a compare-and-set or a claim, so the engine's next read sees it rather than
    doing it twice.
    """

    def __init__(self, inner: Store, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.inner = inner
        self._timeout_s = timeout_s

    async def next_number(self) -> int:
        return await self._bounded(self.inner.next_number(), write=True)

    async def insert(self, record: Record) -> None:
        await self._bounded(self.inner.insert(record), write=True)

    async def load(self, id: str) -> Record | None:
        return await self._bounded(self.inner.load(id))

    async def replace(self, record: Record) -> Record:
        return await self._bounded(self.inner.replace(record), write=True)

    async def list(self, status: str | None = None) -> list[Record]:
        return await self._bounded(self.inner.list(status))

    async def claim(self, key: str, owner: str, ttl_s: float | None = None) -> bool:
        return await self._bounded(self.inner.claim(key, owner, ttl_s), write=True)

    async def renew(self, key: str, owner: str, ttl_s: float) -> bool:
        return await self._bounded(self.inner.renew(key, owner, ttl_s), write=True)

    async def release(self, key: str, owner: str) -> None:
        await self._bounded(self.inner.release(key, owner), write=True)

    async def ping(self) -> None:
        await self._bounded(self.inner.ping())

    async def close(self) -> None:
        # Unbounded: closing waits for writes already queued, which must not be cut off.
        await self.inner.close()

    async def _bounded(self, call: Awaitable[T], *, write: bool = False) -> T:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except TimeoutError:
            reason = f"{NOT_ANSWERING} (no reply within {self._timeout_s:g} s)"
            # Said, because a write sent to a store that was only slow can still land.
            if write:
                reason += "; the change may still be saved when it answers"
            raise StoreError(reason) from None


def backend(store: Store) -> Store:
    """The store doing the work, under any deadline wrapper."""
    return store.inner if isinstance(store, BoundedStore) else store
