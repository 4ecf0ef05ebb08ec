"""Incident response times and fix outcomes, from the incidents the store keeps.

Acknowledged: the first change a person made after opening (any button or command, a
commander or another role assigned included); the bot's own changes do not count.
Mitigated: the first fix applied and verified ok, or a verification step passed; an
incident resolved without either counts as mitigated when it was resolved.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.engine.incident import Incident
from bot.engine.outcome import NOT_RUN, fix_outcome
from bot.errors import InvalidRequest
from bot.metrics import FIX_OUTCOMES, TIME_TO_ACKNOWLEDGE, TIME_TO_MITIGATE, TIME_TO_RESOLVE

WINDOWS: dict[str, timedelta] = {
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
DEFAULT_WINDOW = "30d"


@dataclass(frozen=True)
class Spread:
    """How many incidents reached a milestone, and the median and 90th percentile of the wait."""

    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, waits: list[timedelta]) -> Spread:
        if not waits:
            return cls(0, None, None)
        seconds = sorted(w.total_seconds() for w in waits)
        # Nearest rank: the p90 is a wait some incident really had.
        p90 = seconds[math.ceil(0.9 * len(seconds)) - 1]
        return cls(
            len(seconds),
            timedelta(seconds=statistics.median(seconds)),
            timedelta(seconds=p90),
        )


@dataclass(frozen=True)
class GroupStats:
    """One playbook and service (or everything, as `all`) over the window."""

    playbook: str
    service: str
    opened: int
    acknowledge: Spread
    mitigate: Spread
    resolve: Spread
    fixes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Stats:
    window: str
    since: datetime
    total: GroupStats
    groups: list[GroupStats]


def parse_window(raw: str | None) -> str:
    window = (raw or DEFAULT_WINDOW).strip().lower()
    if window not in WINDOWS:
        raise InvalidRequest(f"stats window must be 7d, 30d or 90d, not '{window[:20]}'")
    return window


def _waits(incidents: list[Incident], milestone: str) -> list[timedelta]:
    found = []
    for incident in incidents:
        at: datetime | None = getattr(incident, milestone)
        if at is not None:
            found.append(at - incident.opened_at)
    return found


def _group(playbook: str, service: str, incidents: list[Incident]) -> GroupStats:
    outcomes: Counter[str] = Counter(
        fix_outcome(a) for i in incidents for a in i.approvals.values() if a.state not in NOT_RUN
    )
    return GroupStats(
        playbook,
        service,
        len(incidents),
        Spread.of(_waits(incidents, "acknowledged_at")),
        Spread.of(_waits(incidents, "mitigated_at")),
        Spread.of(_waits(incidents, "resolved_at")),
        dict(sorted(outcomes.items())),
    )


def incident_stats(
    incidents: list[Incident], raw_window: str | None, now: datetime, *, drills: bool = False
) -> Stats:
    """Incidents opened within the window, per playbook and service and in total; drills only
    with `drills` (a store that holds nothing but one drill's practice)."""
    window = parse_window(raw_window)
    since = now - WINDOWS[window]
    # A drill is practice, not an incident: it would skew every real response time.
    recent = [i for i in incidents if i.opened_at >= since and (drills or i.drill is None)]
    keys = sorted({(i.playbook_id, i.service) for i in recent})
    groups = [
        _group(p, s, [i for i in recent if (i.playbook_id, i.service) == (p, s)]) for p, s in keys
    ]
    return Stats(window, since, _group("all", "all", recent), groups)


def observe_resolved(incident: Incident) -> None:
    """Export a just-resolved incident's response times and fix outcomes to /metrics, once."""
    if incident.drill is not None:
        return
    labels = {"playbook": incident.playbook_id, "service": incident.service}
    for histogram, at in (
        (TIME_TO_ACKNOWLEDGE, incident.acknowledged_at),
        (TIME_TO_MITIGATE, incident.mitigated_at),
        (TIME_TO_RESOLVE, incident.resolved_at),
    ):
        if at is not None:
            histogram.observe((at - incident.opened_at).total_seconds(), **labels)
    for approval in incident.approvals.values():
        if approval.state not in NOT_RUN:
            FIX_OUTCOMES.inc(
                outcome=fix_outcome(approval),
                playbook=incident.playbook_id,
                service=incident.service,
            )
