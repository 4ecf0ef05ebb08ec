"""Admission of after-ack work: a few start together, none waits behind a long one for long."""

from __future__ import annotations

import asyncio

import pytest

from bot.adapters.slack.admission import Admission
from bot.errors import InvalidRequest


async def test_at_most_the_slots_start_together() -> None:
    admission = Admission(slots=2, hold_s=10.0)
    running, most = 0, 0
    release = asyncio.Event()

    async def work() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    works = [asyncio.ensure_future(admission.run(work)) for _ in range(6)]
    await asyncio.sleep(0.05)
    assert running == 2
    release.set()
    await asyncio.gather(*works)
    assert most == 2


async def test_a_long_work_gives_its_slot_up_after_the_hold() -> None:
    admission = Admission(slots=1, hold_s=0.05)
    forever = asyncio.Event()

    async def wait_forever() -> None:
        await forever.wait()

    long = asyncio.ensure_future(admission.run(wait_forever))
    done = asyncio.Event()

    async def short() -> None:
        done.set()

    await asyncio.wait_for(admission.run(short), timeout=2.0)
    assert done.is_set() and not long.done()
    forever.set()
    await long


async def test_the_work_error_reaches_the_caller() -> None:
    async def refused() -> None:
        raise InvalidRequest("no")

    with pytest.raises(InvalidRequest):
        await Admission(slots=1).run(refused)
