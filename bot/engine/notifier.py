"""What an adapter implements to be told that a timer fired; the engine never posts itself."""

from __future__ import annotations

import logging
from typing import Protocol

from bot.config import EscalationContact
from bot.engine.incident import Incident
from bot.playbooks.models import EscalationLevel

log = logging.getLogger(__name__)


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


class Notifiers:
    """Fans a firing out to several adapters; one failing does not silence the others."""

    def __init__(self, *notifiers: Notifier) -> None:
        self.notifiers = list(notifiers)

    async def escalation_due(
        self,
        incident: Incident,
        level: EscalationLevel,
        contacts: EscalationContact | None,
        late: bool,
    ) -> None:
        for notifier in self.notifiers:
            try:
                await notifier.escalation_due(incident, level, contacts, late)
            except Exception as exc:
                log.error("%s: escalation nudge for %s failed: %s", notifier, incident.id, exc)

    async def status_reminder(self, incident: Incident, late: bool) -> None:
        for notifier in self.notifiers:
            try:
                await notifier.status_reminder(incident, late)
            except Exception as exc:
                log.error("%s: status reminder for %s failed: %s", notifier, incident.id, exc)
