"""Which timers an incident has and when: pure functions of its state and its playbook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.engine.headline import headline
from bot.engine.incident import BOT, Incident, Mark, StatusUpdate
from bot.engine.timers import next_escalation, pending_timers, progress
from bot.playbooks.models import Playbook

OPENED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def playbook() -> Playbook:
    return Playbook.model_validate(
        {
            "id": "api-down",
            "title": "API down",
            "severity": "critical",
            "platform": "kubernetes",
            "status_update_interval": "15m",
            "stages": [
                {
                    "id": "triage",
                    "title": "Triage",
                    "steps": [{"id": "look", "kind": "manual", "title": "Look"}],
                }
            ],
            "escalation": [
                {"level": 2, "title": "Engineering Manager", "after": "15m"},
                {"level": 3, "title": "CTO", "after": "30m"},
            ],
        }
    )


def incident() -> Incident:
    return Incident(
        id="INC-0001",
        playbook_id="api-down",
        service="api",
        severity="critical",
        opened_at=OPENED,
        opened_by="oncall",
    )


def minutes(n: float) -> datetime:
    return OPENED + timedelta(minutes=n)


def dues(inc: Incident) -> list[tuple[str, datetime]]:
    return [(t.key.split("@")[0], t.due) for t in pending_timers(inc, playbook())]


def test_levels_and_reminder_come_from_the_playbook() -> None:
    assert dues(incident()) == [
        ("escalation-2", minutes(15)),
        ("reminder", minutes(15)),
        ("escalation-3", minutes(30)),
    ]


def test_a_fired_level_is_not_pending_and_the_next_reminder_counts_from_the_last() -> None:
    inc = incident()
    inc.timers.fired = [t.key for t in pending_timers(inc, playbook())[:2]]
    inc.timers.last_reminder_at = minutes(16)
    assert dues(inc) == [("escalation-3", minutes(30)), ("reminder", minutes(31))]


def test_a_status_update_resets_the_reminder_clock() -> None:
    inc = incident()
    inc.status_updates.append(
        StatusUpdate(template="update", text="x", posted_by="a", posted_at=minutes(10))
    )
    assert ("reminder", minutes(25)) in dues(inc)


def test_acknowledged_and_escalated_levels_are_not_nudged() -> None:
    inc = incident()
    inc.timers.acknowledged[2] = Mark(by="a", at=minutes(1))
    inc.timers.escalated[3] = Mark(by="a", at=minutes(2))
    assert [key for key, _ in dues(inc)] == ["reminder"]
    assert next_escalation(inc, playbook(), minutes(3)).startswith("none pending")


def test_snooze_delays_a_nudge_and_renudges_one_already_fired() -> None:
    inc = incident()
    inc.timers.snoozed_until["escalation"] = minutes(20)
    assert ("escalation-2", minutes(20)) in dues(inc)
    assert "(snoozed)" in next_escalation(inc, playbook(), minutes(5))
    fired = next(t for t in pending_timers(inc, playbook()) if t.kind == "escalation")
    inc.timers.fired.append(fired.key)
    inc.timers.snoozed_until["escalation"] = minutes(35)
    # A snooze after the nudge asks to be nudged again at its end: a new key.
    assert [(k, d) for k, d in dues(inc) if k.startswith("escalation")] == [
        ("escalation-2", minutes(35)),
        ("escalation-3", minutes(35)),
    ]
    assert fired.key not in [t.key for t in pending_timers(inc, playbook())]


def test_muted_reminders_and_resolved_incidents_have_no_reminder() -> None:
    inc = incident()
    inc.timers.reminders_muted = True
    assert all(not key.startswith("reminder") for key, _ in dues(inc))
    inc.status = "resolved"
    assert pending_timers(inc, playbook()) == []
    assert next_escalation(inc, playbook(), minutes(1)) == "none (resolved)"


def test_headline_shows_the_next_nudge() -> None:
    inc = incident()
    assert headline(inc, playbook(), minutes(5)).next_escalation == (
        "level 2 (Engineering Manager) in 10 min"
    )
    inc.timers.acknowledged[2] = Mark(by="a", at=minutes(1))
    assert headline(inc, playbook(), minutes(5)).next_escalation == "level 3 (CTO) in 25 min"
    assert headline(inc, playbook(), minutes(40)).next_escalation == "level 3 (CTO) is due now"


def test_progress_says_how_long_and_what_was_tried() -> None:
    inc = incident()
    assert progress(inc, minutes(16)) == "open 16 min; no fixes tried yet; 0 diagnostic run(s)"
    inc.record(minutes(3), BOT, "diagnostic", "pods: problem: crash looping", "pods")
    inc.record(minutes(5), BOT, "fix-failed", "Restart pods: timed out", "restart")
    inc.record(minutes(8), BOT, "fix-applied", "Rollback: rolled back", "rollback")
    assert progress(inc, minutes(16)) == (
        "open 16 min; fixes tried: restart (failed), rollback (applied); 1 diagnostic run(s)"
    )


def _fix(inc: Incident, n: int, at: datetime, state: str, verified: str | None) -> None:
    from bot.engine.incident import Actor, Approval
    from bot.executors.base import CheckResult, Preview

    approval = Approval(
        id=f"A{n}",
        step_id="restart",
        title="Restart",
        destructive=False,
        preview=Preview(summary="restart"),
        requested_by=Actor(id="U1", name="oncall"),
        requested_at=at,
        expires_at=at + timedelta(minutes=30),
        state=state,
        decided_at=at,
        verification=CheckResult(status=verified, summary="x") if verified else None,
    )
    inc.approvals[approval.id] = approval


def test_a_level_comes_sooner_once_enough_fixes_did_not_help() -> None:
    book = playbook()
    book.escalation[0] = book.escalation[0].model_copy(update={"after_failed_fixes": 3})
    inc = incident()
    _fix(inc, 1, minutes(2), "failed", None)
    _fix(inc, 2, minutes(3), "applied", "ok")  # this one helped: it does not count
    _fix(inc, 3, minutes(4), "applied", "problem")
    _fix(inc, 4, minutes(5), "denied", None)
    assert next(t.due for t in pending_timers(inc, book) if t.kind == "escalation") == minutes(15)
    _fix(inc, 5, minutes(6), "applied", "problem")
    due = [(t.key, t.due) for t in pending_timers(inc, book) if t.kind == "escalation"]
    assert due[0] == ("escalation-2", minutes(6))
