"""The post-incident checklist: a playbook's tasks keyed "<checklist>.<index>", and their state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.engine.incident import ChecklistItem, Incident
from bot.engine.outcome import NOT_RUN
from bot.engine.root_causes import suggest_causes
from bot.errors import InvalidRequest
from bot.playbooks.models import Checklist, Playbook


@dataclass(frozen=True)
class Task:
    """One checklist item as shown: its key, text and progress."""

    key: str
    text: str
    state: ChecklistItem


def key_of(checklist: Checklist, index: int) -> str:
    return f"{checklist.id}.{index}"


def due(checklist: Checklist, incident: Incident, now: datetime) -> datetime:
    """When the checklist is due: `within` after resolving (or after now while still open)."""
    return (incident.resolved_at or now) + timedelta(seconds=checklist.within.total_seconds())


def tasks(checklist: Checklist, incident: Incident) -> list[Task]:
    return [
        Task(
            key_of(checklist, i),
            text,
            incident.checklist.get(key_of(checklist, i), ChecklistItem()),
        )
        for i, text in enumerate(checklist.items)
    ]


def applicable(playbook: Playbook, incident: Incident) -> list[Checklist]:
    """The playbook's checklists for this incident: one tied to a cause only if it matched.

    A cause matched if the findings point at it, or if one of its own fixes ran: a cure can
    take the evidence away before the incident is resolved.
    """
    matched = {m.cause.id for m in suggest_causes(playbook, incident)}
    ran = {a.step_id for a in incident.approvals.values() if a.state not in NOT_RUN}
    matched |= {c.id for c in playbook.root_causes() if ran & {step.id for step in c.steps}}
    return [c for c in playbook.post_incident if c.cause is None or c.cause in matched]


def find(playbook: Playbook, key: str) -> tuple[Checklist, str]:
    """The checklist and item text a key names; InvalidRequest for an unknown key."""
    checklist_id, _, index = key.partition(".")
    for checklist in playbook.post_incident:
        if checklist.id == checklist_id and index.isdigit() and int(index) < len(checklist.items):
            return checklist, checklist.items[int(index)]
    known = ", ".join(f"{c.id}.0-{len(c.items) - 1}" for c in playbook.post_incident) or "none"
    raise InvalidRequest(f"no checklist item '{key[:60]}' (items: {known})")
