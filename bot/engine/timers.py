"""Which timers an incident has and when they are due, derived from its state alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.engine.audience import outside_updates
from bot.engine.incident import Incident, TimerKind
from bot.engine.outcome import fix_outcome
from bot.playbooks.duration import humanize
from bot.playbooks.models import EscalationLevel, Playbook

# Open this long with nobody in command, the room is asked to confirm a commander.
COMMANDER_PROMPT = timedelta(minutes=5)
COMMANDER_KEY = "commander-prompt"


@dataclass(frozen=True)
class Timer:
    """One firing: its key (unique per incident, recorded once fired), kind and due time."""

    key: str
    kind: TimerKind
    due: datetime
    level: EscalationLevel | None = None
    snoozed: bool = False


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def unhelpful_fixes(incident: Incident) -> list[datetime]:
    """When each fix that did not help was approved: failed, or applied and not verified."""
    return sorted(
        a.decided_at
        for a in incident.approvals.values()
        if a.decided_at is not None
        and (
            a.state == "failed"
            or (a.state == "applied" and a.verification and a.verification.status != "ok")
        )
    )


def level_due(incident: Incident, level: EscalationLevel) -> datetime | None:
    """When the first of the level's triggers was met; None while none has been.

    Its time; once enough fixes failed to help; once a responder raised one of its flags;
    once its metric condition has held long enough.
    """
    state = incident.timers
    found: list[datetime] = []
    if level.after is not None:
        found.append(incident.opened_at + level.after)
    if level.after_failed_fixes:
        failed = unhelpful_fixes(incident)
        if len(failed) >= level.after_failed_fixes:
            found.append(failed[level.after_failed_fixes - 1])
    found.extend(state.flags[flag].at for flag in level.on_flags if flag in state.flags)
    since = state.conditions.get(level.level)
    if level.metric is not None and since is not None:
        found.append(since + level.metric.held_for)
    return min(found, default=None)


def escalation_timers(incident: Incident, playbook: Playbook) -> list[Timer]:
    """Levels neither escalated nor acknowledged whose nudge has not fired yet.

    A snooze moves every such level's nudge to its end; after a nudge has fired, a snooze
    is a request to be nudged again then, hence a key of its own.
    """
    state = incident.timers
    snooze = state.snoozed_until.get("escalation")
    found = []
    for level in playbook.escalation:
        if level.level in state.escalated or level.level in state.acknowledged:
            continue
        due = level_due(incident, level)
        if due is None:
            continue
        key = f"escalation-{level.level}"
        snoozed = snooze is not None and snooze > due
        if snooze is not None and snoozed:
            due, key = snooze, f"{key}@{_stamp(snooze)}"
        if key not in state.fired:
            found.append(Timer(key, "escalation", due, level, snoozed))
    return found


def reminder_timer(incident: Incident, playbook: Playbook) -> Timer | None:
    """The next status-update reminder: an interval after the last update, reminder or opening."""
    state = incident.timers
    if state.reminders_muted:
        return None
    # An internal notice is no status update to the people waiting for one.
    last = [incident.opened_at, *(u.posted_at for u in outside_updates(incident)[-1:])]
    if state.last_reminder_at is not None:
        last.append(state.last_reminder_at)
    interval = playbook.status_update_interval
    if incident.status_update_seconds is not None:
        interval = timedelta(seconds=incident.status_update_seconds)
    due = max(last) + interval
    snooze = state.snoozed_until.get("reminder")
    snoozed = snooze is not None and snooze > due
    if snooze is not None and snoozed:
        due = snooze
    key = f"reminder@{_stamp(due)}"
    return None if key in state.fired else Timer(key, "reminder", due, None, snoozed)


def commander_timer(incident: Incident) -> Timer | None:
    """Asking the room to confirm a commander, once, if none is named in time."""
    if incident.commander or COMMANDER_KEY in incident.timers.fired:
        return None
    return Timer(COMMANDER_KEY, "commander", incident.opened_at + COMMANDER_PROMPT)


def fired_timer(incident: Incident, playbook: Playbook, key: str) -> Timer | None:
    """A fired key's timer again, due when it fired, to post its nudge; None if not unposted."""
    unposted = incident.timers.unposted.get(key)
    if unposted is None:
        return None
    if key == COMMANDER_KEY:
        return Timer(key, "commander", unposted.at)
    if key.startswith("reminder@"):
        return Timer(key, "reminder", unposted.at)
    number = key.removeprefix("escalation-").split("@", 1)[0]
    level = next((lv for lv in playbook.escalation if str(lv.level) == number), None)
    return None if level is None else Timer(key, "escalation", unposted.at, level)


def pending_timers(incident: Incident, playbook: Playbook) -> list[Timer]:
    """Every nudge still to fire, soonest first; none once the incident is resolved."""
    if incident.status != "open":
        return []
    found = escalation_timers(incident, playbook)
    reminder = reminder_timer(incident, playbook)
    if reminder is not None:
        found.append(reminder)
    return sorted(found, key=lambda t: (t.due, t.key))


def armed_timers(incident: Incident, playbook: Playbook) -> list[Timer]:
    """What the scheduler arms: the nudges, and the commander prompt while it is still due."""
    found = pending_timers(incident, playbook)
    commander = commander_timer(incident) if incident.status == "open" else None
    return sorted([*found, commander] if commander else found, key=lambda t: (t.due, t.key))


def next_escalation(incident: Incident, playbook: Playbook, now: datetime) -> str:
    """For the headline: the next nudge, honouring snoozes and acknowledgements."""
    if incident.status != "open":
        return "none (resolved)"
    if not playbook.escalation:
        return "none defined"
    upcoming = sorted(escalation_timers(incident, playbook), key=lambda t: t.due)
    future = [t for t in upcoming if t.due > now]
    if future:
        timer = future[0]
        assert timer.level is not None
        snoozed = " (snoozed)" if timer.snoozed else ""
        return (
            f"level {timer.level.level} ({timer.level.title}) "
            f"in {humanize(timer.due - now)}{snoozed}"
        )
    state = incident.timers
    waiting = [
        level
        for level in playbook.escalation
        if level.level not in state.escalated and level.level not in state.acknowledged
    ]
    if not any(level.triggered() for level in waiting):
        return "none pending (every level escalated or acknowledged)"
    due = [level for level in waiting if (at := level_due(incident, level)) and at <= now]
    if due:
        return f"level {due[-1].level} ({due[-1].title}) is due now"
    return "on a condition: " + ", ".join(
        f"level {level.level} ({level.title}) {condition(level)}"
        for level in waiting
        if level.triggered()
    )


def condition(level: EscalationLevel) -> str:
    """What a level waits for, in words: 'if security suspected or after 2 failed fixes'."""
    parts = [f"if {flag.replace('-', ' ')}" for flag in level.on_flags]
    if level.metric is not None:
        held = f" for {humanize(level.metric.held_for)}" if level.metric.held_for else ""
        parts.append(f"when {level.metric.query} holds{held}")
    if level.after_failed_fixes:
        parts.append(f"after {level.after_failed_fixes} failed fix(es)")
    if level.after is not None:
        parts.append(f"at {humanize(level.after)}")
    return " or ".join(parts) or "from the start"


def raisable_flags(incident: Incident, playbook: Playbook) -> list[str]:
    """Flags some waiting level escalates on and nobody has raised yet, in the levels' order."""
    state = incident.timers
    found: list[str] = []
    for level in playbook.escalation:
        if level.level in state.escalated or level.level in state.acknowledged:
            continue
        found += [f for f in level.on_flags if f not in state.flags and f not in found]
    return found if incident.status == "open" else []


def fixes_tried(incident: Incident) -> list[str]:
    """Each fix run so far, in order: 'title (applied)', '(applied, verification failed)',
    '(failed)' or '(interrupted)'."""
    titles = {a.step_id: a.title for a in incident.approvals.values()}
    outcomes = {"fix-applied": "applied", "fix-failed": "failed", "fix-interrupted": "interrupted"}
    tried = []
    for entry in incident.timeline:
        if entry.event not in outcomes:
            continue
        outcome = outcomes[entry.event]
        ran = [
            a
            for a in incident.approvals.values()
            if a.step_id == entry.step_id and a.decided_at and a.decided_at <= entry.at
        ]
        if ran and entry.event == "fix-applied":
            outcome = fix_outcome(max(ran, key=lambda a: a.decided_at or entry.at))
        tried.append(f"{titles.get(entry.step_id or '', entry.step_id)} ({outcome})")
    return tried


def progress(incident: Incident, now: datetime) -> str:
    """How long the incident has been open and what has been tried, for a nudge."""
    opened = f"open {humanize(now - incident.opened_at)}"
    tried = fixes_tried(incident)
    checks = sum(1 for entry in incident.timeline if entry.event == "diagnostic")
    fixes = "fixes tried: " + ", ".join(tried) if tried else "no fixes tried yet"
    return f"{opened}; {fixes}; {checks} diagnostic run(s)"
