"""A Slack request's intake: when Slack sent it, its decision stored before the ack, and no
decision on a request Slack has already given up on.

Slack waits 3 s for an ack. A listener stores what it decides (the incident opened, the click's
record write) and then acks, so an acknowledged request is never lost with its process; what
follows the decision is work any replica resumes. A request whose age has passed the stale limit
(a process stopped, a frozen host, a request read long after it arrived) decides nothing: the
first incident write it attempts is refused, and the sender is told in one line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from bot.crashpoints import crash_point
from bot.engine.incident import Incident
from bot.errors import InvalidRequest
from bot.settings import DEFAULT_STALE_AFTER_S

log = logging.getLogger(__name__)

# Slack shows the sender a failure when no ack arrives within this.
SLACK_DEADLINE_S = 3.0
# No decision is stored on a request older than this (RUNBOOK_BOT_STALE_AFTER_S): the rest of
# Slack's 3 s is left for the store's reply and the ack. X-Slack-Request-Timestamp is whole
# seconds, so an age is measured up to 1 s long, never short: late requests are always caught.
STALE_AFTER_S = DEFAULT_STALE_AFTER_S

# Where a fault test kills the process: a decision stored and its ack sent, nothing more.
ACKED = "slack-acked"

_CURRENT: ContextVar[Intake | None] = ContextVar("runbook_bot_intake", default=None)
# Set only in the task that makes the request's decision, so background work the request set
# off earlier (timers armed, headline refreshes) is never taken for it.
_DECIDING: ContextVar[Intake | None] = ContextVar("runbook_bot_deciding", default=None)


class StaleRequest(InvalidRequest):
    """A request that reached its decision after Slack gave up on it; nothing was stored."""


def late_line(age_s: float) -> str:
    return (
        f"that request reached the bot {age_s:.0f} s after you sent it, when Slack had given up "
        "on it; nothing was done, run it again"
    )


@dataclass
class Intake:
    """One Slack request: when it was sent (wall clock, never later than Slack sent it), and
    how far its decision has gone."""

    sent_at: float
    stale_after_s: float = STALE_AFTER_S
    # Set by an incident write made while deciding: the decision is stored, ack now.
    decided: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once the ack has left the process.
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    # The incident the decision wrote, said to the sender if the ack leaves too late.
    incident: str = ""
    deciding: bool = False
    # The ack went (or goes) to Slack in time without a decision: what follows is not one.
    settled: bool = False

    def age(self) -> float:
        return time.time() - self.sent_at

    def stale(self) -> bool:
        return self.age() > self.stale_after_s

    def budget(self) -> float:
        """Seconds left to store a decision before the ack must go without one."""
        return max(0.0, self.stale_after_s - self.age())


def current() -> Intake | None:
    """The request being handled in this task, if any."""
    return _CURRENT.get()


@contextmanager
def taking_in(intake: Intake) -> Iterator[Intake]:
    """Marks the block (and every task it starts) as handling `intake`."""
    token = _CURRENT.set(intake)
    try:
        yield intake
    finally:
        _CURRENT.reset(token)


@contextmanager
def deciding() -> Iterator[None]:
    """The block makes the current request's decision: its first incident write is it, and is
    refused if the request is stale by then. Nothing in the block is one once the ack went
    without it (`until_decided`)."""
    intake = current()
    if intake is None or intake.settled:
        yield
        return
    intake.deciding = True
    token = _DECIDING.set(intake)
    try:
        yield
    finally:
        _DECIDING.reset(token)


def check_write() -> None:
    """Engine write check: refuses a decision on a stale request (what follows a stored
    decision is never held back)."""
    intake = _DECIDING.get()
    if intake is not None and intake.deciding and not intake.decided.is_set() and intake.stale():
        age = intake.age()
        log.warning("refused a decision %.1f s after Slack sent its request", age)
        raise StaleRequest(late_line(age))


def note_change(incident: Incident) -> None:
    """Engine change listener: a deciding write was stored."""
    intake = _DECIDING.get()
    if intake is not None and intake.deciding and not intake.decided.is_set():
        intake.incident = incident.id
        intake.decided.set()


async def until_decided(work: asyncio.Future[Any]) -> None:
    """Waits until the request's decision is stored, `work` ends, or the budget runs out; the
    caller acks next. Past the budget the ack still reaches Slack in time, so what `work` writes
    later is no longer held back; unless the request went stale meanwhile (its process stood
    still), when nothing it would decide is stored at all."""
    intake = current()
    if intake is None:
        # Not from a transport (a test driving a listener): no clock to go by but the limit.
        await asyncio.wait({work}, timeout=STALE_AFTER_S)
        return
    decided = asyncio.ensure_future(intake.decided.wait())
    try:
        await asyncio.wait({work, decided}, timeout=intake.budget(), return_when="FIRST_COMPLETED")
    finally:
        decided.cancel()
        with suppress(asyncio.CancelledError):
            await decided
    if intake.age() < SLACK_DEADLINE_S:
        intake.deciding = False
        intake.settled = True


async def after_ack() -> None:
    """Called by a listener once it acked; returns once the ack has left the process (or could
    not), so what follows is after the answer. A fault test kills the process here."""
    intake = current()
    if intake is not None:
        with suppress(TimeoutError):
            await asyncio.wait_for(intake.answered.wait(), SLACK_DEADLINE_S * 2)
    crash_point(ACKED)


async def ack_once_decided(ack: Callable[[], Awaitable[Any]], work: Awaitable[None]) -> None:
    """Runs `work` (whose decision is made under `deciding`); acks once that decision is stored,
    `work` ended, or the budget ran out; then lets `work` finish."""
    working = asyncio.ensure_future(work)
    await until_decided(working)
    await ack()
    await after_ack()
    await working


def late_ack_line(intake: Intake) -> str:
    """What the sender is told when a stored decision's ack left after Slack's deadline."""
    done = f"{intake.incident} was changed as you asked" if intake.incident else "it was done"
    return (
        f"the bot was held up {intake.age():.0f} s after your request, so Slack may have shown "
        f"an error; {done}: do not run it again"
    )


async def answered(intake: Intake, respond: Any) -> None:
    """The transport sent the ack: wake the listener; if the decision was stored but the ack
    left too late for Slack, tell the sender it was done (through `respond`, if any)."""
    intake.answered.set()
    if not intake.decided.is_set() or intake.age() <= SLACK_DEADLINE_S:
        return
    line = late_ack_line(intake)
    log.warning("%s", line)
    if respond is None:
        return
    try:
        await respond(text=f":warning: {line}", response_type="ephemeral", replace_original=False)
    except Exception as exc:
        log.warning("could not tell the sender of a late ack: %s", type(exc).__name__)
