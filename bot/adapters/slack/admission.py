"""Admission of after-ack work, so a burst of requests cannot starve the acks of the next ones."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Enough to keep Slack and the store busy; few enough that one turn of the event loop stays
# short while a burst's acks wait for it (bench/ack_latency.py).
WORK_SLOTS = 6
# A slot is held at most this long: a fix being verified for minutes must not block new work.
HOLD_S = 0.25


class Admission:
    """At most `slots` pieces of work start together; each gives its slot up after `hold_s`
    or when it finishes, whichever comes first, and then runs on unhindered."""

    def __init__(self, slots: int = WORK_SLOTS, hold_s: float = HOLD_S) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._hold_s = hold_s

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Runs `work` once admitted; its result, or its exception, is returned here."""
        async with self._slots:
            task = asyncio.ensure_future(work())
            await asyncio.wait({task}, timeout=self._hold_s)
        return await task
