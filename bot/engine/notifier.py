"""What an adapter implements to be told that a timer fired or a fix was found interrupted;
the engine never posts itself."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.config import EscalationContact
from bot.engine.incident import Incident
from bot.engine.recovery import Interruption
from bot.playbooks.models import EscalationLevel


@dataclass(frozen=True)
class Firing:
    """The firing a notifier is told of: an id to post its nudge under, the same however often
    it is told, and when it was decided (an earlier post of it is no older)."""

    id: str
    at: datetime
    # Told by the replica that has just decided it: nobody can have posted it yet, so there
    # is nothing to look for (a Slack history call per nudge saved).
    fresh: bool = False


# Set by the scheduler while it tells a notifier of a firing, so that an adapter can post each
# firing at most once (looking for its id first) however often it is told: after a poster died
# before recording the post, or a record write no replica confirmed.
FIRING: ContextVar[Firing | None] = ContextVar("firing", default=None)


class Notifier(Protocol):
    """Told of each firing after it is stored in the timeline: once, or again (with the same
    FIRING) when its post is not known to have happened; a method that raises has not posted."""

    async def escalation_due(
        self,
        incident: Incident,
        level: EscalationLevel,
        contacts: EscalationContact | None,
        late: bool,
    ) -> None:
        """A level's time passed: nudge, mentioning its contacts (None: none configured)."""
        ...

    async def status_reminder(self, incident: Incident, late: bool) -> None:
        """A status update is due: remind the incident's room."""
        ...

    async def commander_needed(self, incident: Incident, late: bool) -> None:
        """Open a while with no commander: ask the room to confirm one."""
        ...

    async def fix_interrupted(self, interruption: Interruption) -> None:
        """A fix was cut short by a crash: say what the target shows, offer the fresh approval."""
        ...
