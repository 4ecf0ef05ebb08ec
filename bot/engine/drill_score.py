"""A drill's score: kept as the responders work, summed up when the drill is resolved."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.engine.audience import outside_updates
from bot.engine.incident import Incident
from bot.engine.root_causes import CauseMatch, suggest_causes
from bot.playbooks.duration import humanize
from bot.playbooks.models import FixStep, Playbook

DRILL = "DRILL"


def observe(incident: Incident, playbook: Playbook, stored_timeline: int, now: datetime) -> None:
    """After a change to a drill: note when the right cause first ranks top, and each fix
    requested (a `fix-requested` entry new since `stored_timeline`) that the findings do not
    support. Kept as it happens, since later diagnostics replace the findings it was judged on."""
    mark = incident.drill
    if mark is None:
        return
    causes = suggest_causes(playbook, incident)
    if mark.cause_found_at is None and causes and causes[0].cause.id == mark.root_cause:
        mark.cause_found_at = now
    fitting = fitting_fixes(causes)
    for entry in incident.timeline[stored_timeline:]:
        if entry.event == "fix-requested" and entry.step_id and entry.step_id not in fitting:
            mark.misfits.append(entry.step_id)


def fitting_fixes(causes: list[CauseMatch]) -> set[str]:
    """The fix steps of the supported causes: their own, and those they point to (`see_also`)."""
    found: set[str] = set()
    for match in causes:
        found.update(s.id for s in match.cause.steps if isinstance(s, FixStep))
        found.update(match.cause.see_also)
    return found


@dataclass(frozen=True)
class DrillScore:
    """What a game day is judged on; `None` times: never reached."""

    scenario: str
    root_cause: str
    to_root_cause: timedelta | None
    to_mitigate: timedelta | None
    misfits: tuple[str, ...]
    updates_on_time: int
    updates_due: int

    def lines(self) -> list[str]:
        """The score as plain lines, the same in every adapter."""
        misfits = ", ".join(self.misfits) if self.misfits else "none"
        return [
            f"{DRILL} score, scenario '{self.scenario}':",
            f"- time to the right root cause ({self.root_cause}): {_took(self.to_root_cause)}",
            f"- time to mitigate: {_took(self.to_mitigate)}",
            f"- fixes requested that did not fit the findings: {len(self.misfits)} ({misfits})",
            f"- status updates on time: {self.updates_on_time}/{self.updates_due}",
        ]


def _took(span: timedelta | None) -> str:
    return humanize(span) if span is not None else "not reached"


def score(incident: Incident, playbook: Playbook, now: datetime) -> DrillScore:
    """The drill's score; `now` ends an unresolved drill."""
    mark = incident.drill
    if mark is None:
        raise ValueError(f"{incident.id} is not a drill")
    interval = playbook.status_update_interval
    if incident.status_update_seconds:
        interval = timedelta(seconds=incident.status_update_seconds)
    on_time, due = updates_on_time(
        [u.posted_at for u in outside_updates(incident)],
        incident.opened_at,
        incident.resolved_at or now,
        interval,
    )
    return DrillScore(
        scenario=mark.scenario,
        root_cause=mark.root_cause,
        to_root_cause=_since(incident, mark.cause_found_at),
        to_mitigate=_since(incident, incident.mitigated_at),
        misfits=tuple(mark.misfits),
        updates_on_time=on_time,
        updates_due=due,
    )


def _since(incident: Incident, at: datetime | None) -> timedelta | None:
    return at - incident.opened_at if at is not None else None


def updates_on_time(
    posted: list[datetime], opened: datetime, end: datetime, interval: timedelta
) -> tuple[int, int]:
    """(on time, due): an update is due an interval after the opening or the previous update,
    as the reminders count; each interval that passes without one is one more missed."""
    on_time = due = 0
    deadline = opened + interval
    for at in sorted(p for p in posted if p <= end):
        if at <= deadline:
            on_time += 1
            due += 1
        else:
            # Late: the slot it fills late, and every whole interval before it with none.
            due += 1 + math.floor((at - deadline) / interval)
        deadline = at + interval
    while deadline <= end:
        due += 1
        deadline += interval
    return on_time, due
