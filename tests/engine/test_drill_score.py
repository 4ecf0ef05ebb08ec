"""A drill's score: status updates counted as the reminders count them, and the whole score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.engine.drill_score import DrillScore, updates_on_time
from bot.engine.incident import DrillMark, Incident
from bot.engine.stats import incident_stats

OPENED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EVERY = timedelta(minutes=15)


def at(minutes: float) -> datetime:
    return OPENED + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("posted", "end", "expected"),
    [
        ([], 10, (0, 0)),
        ([], 15, (0, 1)),
        ([], 46, (0, 3)),
        ([5], 10, (1, 1)),
        ([14, 28], 40, (2, 2)),
        # Late once: the slot filled late, then on time again from that update.
        ([20, 30], 40, (1, 2)),
        # Forty minutes late: two whole intervals with none, and the late one.
        ([55], 60, (0, 3)),
        # One due, then the interval after the last update passes with none.
        ([10], 26, (1, 2)),
        # An update after the end is not counted.
        ([5, 50], 20, (1, 2)),
    ],
)
def test_status_updates_on_time_of_due(
    posted: list[float], end: float, expected: tuple[int, int]
) -> None:
    assert updates_on_time([at(p) for p in posted], OPENED, at(end), EVERY) == expected


def test_the_score_reads_the_same_in_every_adapter() -> None:
    score = DrillScore(
        scenario="oom-bad-deploy",
        root_cause="resource-exhaustion",
        to_root_cause=timedelta(seconds=40),
        to_mitigate=None,
        misfits=("restart", "scale-up"),
        updates_on_time=1,
        updates_due=2,
    )
    assert score.lines() == [
        "DRILL score, scenario 'oom-bad-deploy':",
        "- time to the right root cause (resource-exhaustion): 40 s",
        "- time to mitigate: not reached",
        "- fixes requested that did not fit the findings: 2 (restart, scale-up)",
        "- status updates on time: 1/2",
    ]


def test_stats_leave_drills_out_unless_the_store_is_all_practice() -> None:
    def incident(number: int, drill: DrillMark | None) -> Incident:
        return Incident(
            id=f"INC-{number:04d}",
            playbook_id="api-down",
            service="ecap-api",
            severity="high",
            opened_at=at(0),
            opened_by="oncall",
            drill=drill,
        )

    mark = DrillMark(scenario="oom-bad-deploy", root_cause="resource-exhaustion")
    stored = [incident(1, None), incident(2, mark), incident(3, mark)]
    assert incident_stats(stored, "7d", at(60)).total.opened == 1
    assert incident_stats(stored, "7d", at(60), drills=True).total.opened == 3
