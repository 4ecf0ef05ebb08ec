"""Faults the scale benchmark injects into a running fleet, under load.

Each strikes one second after the first level-2 nudge falls due, while commands and clicks are
still arriving (at 200 incidents) and nudges are firing, and says what it saw: notes for the
log and timings (seconds) for the table.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bench.backing import Backing
from bench.fleet import Fleet
from bot.errors import BotError
from bot.store import RedisStore
from bot.store.base import Record

if TYPE_CHECKING:
    from bench.scale import Setup

PAUSE_S = 10.0
PROBE_EVERY_S = 0.1
PROMOTION_TIMEOUT_S = 60.0


@dataclass
class Seen:
    """What a fault observed."""

    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class Act(Protocol):
    async def __call__(self, fleet: Fleet, store: Backing) -> Seen: ...


@dataclass(frozen=True)
class Fault:
    """A named fault, what it needs, and when, after the run began, it strikes."""

    name: str
    act_on: Act
    needs: str = ""  # a store kind it only makes sense on

    async def act(self, fleet: Fleet, store: Backing, began: float, setup: Setup) -> Seen:
        strike_at = began + setup.levels[2].total_seconds() + 1.0
        await asyncio.sleep(max(0.0, strike_at - time.time()))
        return await self.act_on(fleet, store)


async def kill(fleet: Fleet, store: Backing) -> Seen:
    """kill -9 the second replica, for good: the others must carry its incidents."""
    victim = fleet.replicas[1]
    victim.kill()
    return Seen([f"kill -9 {victim.name} (pid {victim.process.pid}) at {time.strftime('%X')}"])


async def pause(fleet: Fleet, store: Backing) -> Seen:
    """SIGSTOP the second replica for PAUSE_S, then SIGCONT."""
    victim = fleet.replicas[1]
    victim.pause()
    await asyncio.sleep(PAUSE_S)
    victim.resume()
    return Seen([f"paused {victim.name} (pid {victim.process.pid}) for {PAUSE_S:.0f} s"])


async def first_write(url: str, started: float) -> float:
    """Seconds from `started` until the bot's own store code saves (and a replica confirms) a
    record through the sentinels again."""
    probe = RedisStore(url, f"bench-probe-{time.monotonic_ns()}:")
    try:
        n = 0
        while time.monotonic() - started < PROMOTION_TIMEOUT_S:
            n += 1
            try:
                await probe.insert(Record(f"probe-{n}", "probe", 1, "{}"))
                return time.monotonic() - started
            except BotError:
                await asyncio.sleep(PROBE_EVERY_S)
        raise TimeoutError(f"no write went through within {PROMOTION_TIMEOUT_S:.0f} s")
    finally:
        await probe.close()


async def primary(fleet: Fleet, store: Backing) -> Seen:
    """kill -9 the Redis primary; time the sentinels' promotion and the first confirmed write."""
    sentinel = store.sentinel
    assert sentinel is not None  # FAULTS says it needs Sentinel
    started = time.monotonic()
    old = await asyncio.to_thread(sentinel.kill_primary)
    writes = asyncio.create_task(first_write(store.url, started))
    new = await asyncio.to_thread(sentinel.wait_for_promotion, old, PROMOTION_TIMEOUT_S)
    promoted = time.monotonic() - started
    resumed = await writes
    return Seen(
        [
            f"kill -9 of the Redis primary (port {old}); port {new} promoted after "
            f"{promoted:.1f} s; writes confirmed again after {resumed:.1f} s"
        ],
        {"promotion": promoted, "writes resumed": resumed},
    )


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (Fault("kill", kill), Fault("pause", pause), Fault("primary", primary, "sentinel"))
}
