"""Faults the scale benchmark injects into a running fleet, under load.

Each strikes one second after the first level-2 nudge falls due, while commands and clicks are
still arriving (at 200 incidents) and nudges are firing, and returns what it saw.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bench.fleet import Fleet

if TYPE_CHECKING:
    from bench.scale import Setup

PAUSE_S = 10.0


class Act(Protocol):
    async def __call__(self, fleet: Fleet) -> list[str]: ...


@dataclass(frozen=True)
class Fault:
    """A named fault and when, after the run began, it strikes."""

    name: str
    act_on: Act

    async def act(self, fleet: Fleet, began: float, setup: Setup) -> list[str]:
        strike_at = began + setup.levels[2].total_seconds() + 1.0
        await asyncio.sleep(max(0.0, strike_at - time.time()))
        return await self.act_on(fleet)


async def kill(fleet: Fleet) -> list[str]:
    """kill -9 the second replica, for good: the others must carry its incidents."""
    victim = fleet.replicas[1]
    victim.kill()
    return [f"kill -9 {victim.name} (pid {victim.process.pid}) at {time.strftime('%X')}"]


async def pause(fleet: Fleet) -> list[str]:
    """SIGSTOP the second replica for PAUSE_S, then SIGCONT."""
    victim = fleet.replicas[1]
    victim.pause()
    await asyncio.sleep(PAUSE_S)
    victim.resume()
    return [f"paused {victim.name} (pid {victim.process.pid}) for {PAUSE_S:.0f} s"]


FAULTS: dict[str, Fault] = {f.name: f for f in (Fault("kill", kill), Fault("pause", pause))}
