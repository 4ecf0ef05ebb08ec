"""The plain data templates see: no live objects, so a sandboxed template reaches nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.config import Config
from bot.engine import checklist
from bot.engine.incident import Incident
from bot.engine.outcome import NOT_RUN, fix_outcome
from bot.engine.pins import full_timeline
from bot.engine.roles import seats
from bot.engine.severity import severity_label
from bot.playbooks.duration import humanize
from bot.playbooks.models import Playbook


def _stamp(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else ""


def _since(start: datetime, end: datetime | None) -> str:
    return humanize(end - start) if end else ""


def template_context(
    incident: Incident, playbook: Playbook, config: Config, now: datetime, eta: str = ""
) -> dict[str, Any]:
    # A drill's service is its sandbox's, whatever a real service of that name is called.
    binding = config.services.get(incident.service) if incident.drill is None else None
    end = incident.resolved_at or now
    stage = playbook.stages[incident.stage_index]
    fixes = [
        {
            "title": a.title,
            "summary": a.preview.summary,
            "requested_by": a.requested_by.label,
            "approved_by": a.decided_by.label if a.decided_by and a.state != "denied" else "",
            "state": a.state,
            # What became of it, in the words every surface uses; templates show this.
            "outcome": fix_outcome(a),
            "ran": a.state not in NOT_RUN,
            "result": a.result.summary if a.result else "",
            "verification": a.verification.summary if a.verification else "",
            "at": _stamp(a.decided_at or a.requested_at),
        }
        for a in incident.approvals.values()
    ]
    problems = [
        {"step": run.step_id, "summary": run.summary}
        for run in incident.step_runs.values()
        if run.status in ("problem", "error")
    ]
    return {
        "incident": {
            "id": incident.id,
            "service": incident.service,
            "service_name": binding.display_name if binding else incident.service,
            "summary": incident.summary,
            "severity": incident.severity,
            "status": incident.status,
            "commander": incident.commander or "",
            "stage": stage.title,
            "opened_at": _stamp(incident.opened_at),
            "opened_by": incident.opened_by,
            "resolved_at": _stamp(incident.resolved_at),
            "duration": humanize(end - incident.opened_at),
            "time_to_acknowledge": _since(incident.opened_at, incident.acknowledged_at),
            "time_to_mitigate": _since(incident.opened_at, incident.mitigated_at),
            "time_to_resolve": _since(incident.opened_at, incident.resolved_at),
            "severity_label": severity_label(incident.severity),
            "root_cause": incident.root_cause,
            "resolution": incident.resolution,
        },
        # Every role but the commander (above), and each handover as the timeline has it.
        "roles": [
            {"title": seat.title, "holder": seat.holder}
            for seat in seats(incident, playbook)
            if seat.id != "commander"
        ],
        "handovers": [
            {"at": _stamp(e.at), "by": e.actor, "text": e.text}
            for e in incident.timeline
            if e.event == "role"
        ],
        "playbook": {"id": playbook.id, "title": playbook.title, "impact": playbook.impact},
        "update_interval": humanize(playbook.status_update_interval),
        "eta": eta,
        "fixes": fixes,
        "problems": problems,
        "status_updates": [
            {"template": u.template, "text": u.text, "by": u.posted_by, "at": _stamp(u.posted_at)}
            for u in incident.status_updates
        ],
        "timeline": [
            {"at": _stamp(e.at), "actor": e.actor, "event": e.event, "text": e.text}
            for e in full_timeline(incident)
        ],
        "checklists": [
            {
                "title": c.title,
                "due": _stamp(checklist.due(c, incident, now)),
                "tasks": [
                    {
                        "key": t.key,
                        "text": t.text,
                        "done": t.state.done,
                        "done_by": t.state.done_by,
                        "owner": t.state.owner,
                        "ticket": t.state.ticket,
                    }
                    for t in checklist.tasks(c, incident)
                ],
            }
            for c in checklist.applicable(playbook, incident)
        ],
    }
