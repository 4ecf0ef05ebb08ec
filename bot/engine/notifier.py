"""What an adapter implements to be told that a timer fired or a fix was found interrupted;
the engine never posts itself."""

from __future__ import annotations

from typing import Protocol

from bot.config import EscalationContact
from bot.engine.incident import Incident
from bot.engine.recovery import Interruption
from bot.playbooks.models import EscalationLevel


class Notifier(Protocol):
    """Told once per firing, across every replica, after the firing is stored in the timeline."""

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
