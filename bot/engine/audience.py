"""Who a communication reaches, in words, and which of an incident's updates went where."""

from __future__ import annotations

from collections.abc import Sequence

from bot.engine.incident import Incident, StatusUpdate

LABELS = {
    "internal": "the incident room",
    "incidents-channel": "the incidents channel",
    "status-channel": "the status channel",
    "status-page": "the status page",
}


def audience_label(audience: Sequence[str]) -> str:
    """'the incident room, the status page': the audiences in the playbook's order."""
    return ", ".join(LABELS.get(name, name) for name in audience) or "nobody"


def reaches(update: StatusUpdate, audience: str) -> bool:
    return audience in update.audience


def outside_updates(incident: Incident) -> list[StatusUpdate]:
    """Updates that reached someone outside the room, oldest first: what reminders count."""
    return [u for u in incident.status_updates if set(u.audience) - {"internal"}]
