"""The one point where an incident's text is redacted: just before the store keeps it."""

from __future__ import annotations

from bot.engine.incident import Incident
from bot.redact import redact


def redact_incident(incident: Incident, stored: tuple[int, int] = (0, 0)) -> None:
    """Redact, in place, what people typed and the timeline, so everything rendered from the
    stored incident (the post-incident document too) is redacted.

    `stored` counts the timeline entries and status updates redacted when the incident was last
    stored; only those after them are redacted again. Executor results are redacted by the
    runner as they arrive.
    """
    incident.summary = redact(incident.summary)
    incident.root_cause = redact(incident.root_cause)
    incident.resolution = redact(incident.resolution)
    for done in incident.manual_done.values():
        done.note = redact(done.note)
    incident.roles = {role: redact(holder) for role, holder in incident.roles.items()}
    for item in incident.checklist.values():
        item.owner = redact(item.owner)
    for pin in incident.pinned.values():
        pin.text = redact(pin.text)
    for update in incident.status_updates[stored[1] :]:
        update.text = redact(update.text)
    for entry in incident.timeline[stored[0] :]:
        entry.text = redact(entry.text)
