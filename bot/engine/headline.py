"""The few facts a responder needs at a glance; every adapter renders these its own way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.engine.incident import Incident
from bot.engine.outcome import fixes_line
from bot.engine.roles import Seat, seats
from bot.engine.timers import next_escalation as next_escalation_text
from bot.engine.timers import raisable_flags
from bot.playbooks.duration import humanize
from bot.playbooks.models import Playbook


@dataclass(frozen=True)
class Headline:
    incident_id: str
    title: str
    service: str
    status: str
    severity: str
    commander: str
    elapsed: str
    stage: str
    stage_number: int
    stage_count: int
    next_escalation: str
    last_status_update: str
    pending_approvals: int
    # Every fix that ran and what became of it, compactly; empty before the first.
    fixes: str = ""
    # Flags a responder may raise to escalate ("security-suspected"), as buttons or commands.
    flags: tuple[str, ...] = ()
    # Every role and who holds it, the commander first.
    roles: tuple[Seat, ...] = ()


def headline(incident: Incident, playbook: Playbook, now: datetime) -> Headline:
    end = incident.resolved_at or now
    elapsed = end - incident.opened_at
    next_escalation = next_escalation_text(incident, playbook, now)
    if incident.status_updates:
        last_update = incident.status_updates[-1]
        last_status = f"{last_update.template}, {humanize(now - last_update.posted_at)} ago"
    else:
        last_status = "none yet"
    stage = playbook.stages[incident.stage_index]
    return Headline(
        incident_id=incident.id,
        title=f"DRILL: {playbook.title}" if incident.drill is not None else playbook.title,
        service=incident.service,
        status=incident.status,
        severity=incident.severity,
        commander=incident.commander or "unclaimed",
        elapsed=humanize(elapsed),
        stage=stage.title,
        stage_number=incident.stage_index + 1,
        stage_count=len(playbook.stages),
        next_escalation=next_escalation,
        last_status_update=last_status,
        pending_approvals=sum(
            1 for a in incident.approvals.values() if a.state == "pending" and a.expires_at > now
        ),
        fixes=fixes_line(list(incident.approvals.values())),
        flags=tuple(raisable_flags(incident, playbook)),
        roles=tuple(seats(incident, playbook)),
    )
