"""An incident's state: everything the store keeps and a restart resumes from."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.executors.base import CheckResult, Finding, Preview, Status


class Actor(BaseModel):
    """Who did something: a Slack user, a console user, or the bot itself."""

    id: str
    name: str = ""
    groups: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return self.name or self.id


BOT = Actor(id="runbook-bot", name="runbook-bot")


class StepRun(BaseModel):
    """The latest result of running one step."""

    step_id: str
    status: Status
    summary: str
    output: str = ""
    findings: list[Finding] = Field(default_factory=list)
    started_at: datetime
    finished_at: datetime
    actor: str

    @classmethod
    def of(
        cls, step_id: str, result: CheckResult, started: datetime, finished: datetime, actor: Actor
    ) -> StepRun:
        return cls(
            step_id=step_id,
            status=result.status,
            summary=result.summary,
            output=result.output,
            findings=result.findings,
            started_at=started,
            finished_at=finished,
            actor=actor.label,
        )


# approved, then applying once the change is about to be sent; interrupted when the process
# stopped before the result was stored, so nobody can tell from the record whether it ran.
ApprovalState = Literal[
    "pending", "approved", "applying", "applied", "failed", "denied", "expired", "interrupted"
]


# What a fix step's menu picks: a revision to roll back to, a replica count, a resource factor.
MenuKind = Literal["revision", "replicas", "resources"]


class Choice(BaseModel):
    """One value a fix step's menu offers, with what it means to a reader."""

    value: int
    label: str


class Approval(BaseModel):
    """A fix waiting for (or past) its approval; applied at most once."""

    id: str
    step_id: str
    title: str
    destructive: bool
    preview: Preview
    requested_by: Actor
    requested_at: datetime
    expires_at: datetime
    state: ApprovalState = "pending"
    decided_by: Actor | None = None
    decided_at: datetime | None = None
    result: CheckResult | None = None
    verification: CheckResult | None = None
    # The responder's pick from the step's menu (a revision to roll back to), and the menu
    # offered with it; both read from the live target, never typed.
    choice: int | None = None
    choices: list[Choice] = Field(default_factory=list)
    # Stored before menus other than the rollback's existed: a stored menu is of revisions.
    menu: MenuKind = "revision"


class ManualDone(BaseModel):
    by: str
    at: datetime
    note: str = ""


class StatusUpdate(BaseModel):
    template: str
    text: str
    posted_by: str
    posted_at: datetime
    # Where it went, as the playbook said when it was posted (before audiences: everywhere).
    audience: list[str] = Field(
        default_factory=lambda: ["internal", "status-channel", "status-page"]
    )
    impact: str | None = None


class TimelineEntry(BaseModel):
    at: datetime
    actor: str
    event: str
    text: str
    step_id: str | None = None


class PinnedMessage(BaseModel):
    """A message of the room that someone pinned or marked with 📌; shown on the timeline."""

    author: str
    at: datetime
    text: str
    # Each way it is pinned: "pin", or "reaction:<user>"; it leaves the timeline with the last.
    marks: list[str] = Field(default_factory=list)


# commander: the room asked to confirm one when nobody has been named in time.
TimerKind = Literal["escalation", "reminder", "commander"]


class Mark(BaseModel):
    """Who pressed a timer's button, and when."""

    by: str
    at: datetime


class Unposted(BaseModel):
    """A firing recorded as decided whose nudge is not yet known to be posted."""

    at: datetime
    late: bool = False


class TimerState(BaseModel):
    """What the escalation and reminder timers need; timers are derived from it, never stored."""

    escalated: dict[int, Mark] = Field(default_factory=dict)
    acknowledged: dict[int, Mark] = Field(default_factory=dict)
    snoozed_until: dict[TimerKind, datetime] = Field(default_factory=dict)
    reminders_muted: bool = False
    last_reminder_at: datetime | None = None
    # Firing keys already fired, so a restart or another replica never fires one twice.
    fired: list[str] = Field(default_factory=list)
    # Fired keys whose nudge is yet to be posted: whoever holds the firing's claim posts it
    # (under an id Slack is asked about first) and then drops it here, so a firing whose
    # poster died, or whose record write went unconfirmed, is posted by another, once.
    unposted: dict[str, Unposted] = Field(default_factory=dict)
    # Flags a responder raised ("security-suspected"), which levels may escalate on.
    flags: dict[str, Mark] = Field(default_factory=dict)
    # Level -> since when its metric condition has held without a break.
    conditions: dict[int, datetime] = Field(default_factory=dict)


class ChecklistItem(BaseModel):
    """One post-incident task's progress; items nobody touched yet are absent."""

    done: bool = False
    done_by: str = ""
    done_at: datetime | None = None
    owner: str = ""
    # The follow-up ticket's link, once "Create ticket" made one.
    ticket: str = ""


class DrillMark(BaseModel):
    """What makes an incident a drill, and what its score is kept from as it goes."""

    scenario: str
    # The root cause id the scenario broke; the score times when it first ranks top.
    root_cause: str
    platform: Literal["kubernetes", "docker"] = "kubernetes"
    # The process whose sandbox the drill runs against; another replica cannot reach it.
    owner: str = ""
    cause_found_at: datetime | None = None
    # Fix steps requested that were not among the fixes of the causes the findings supported.
    misfits: list[str] = Field(default_factory=list)


IncidentStatus = Literal["open", "resolved"]


class Incident(BaseModel):
    id: str
    playbook_id: str
    service: str
    summary: str = ""
    severity: str
    status: IncidentStatus = "open"
    opened_at: datetime
    opened_by: str
    commander: str | None = None
    # Role id -> who holds it (a Slack user id or a console name); the commander lives above.
    roles: dict[str, str] = Field(default_factory=dict)
    # From the config's severity policy when set; else the playbook's status_update_interval.
    status_update_seconds: float | None = None
    stage_index: int = 0
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    root_cause: str = ""
    resolution: str = ""
    step_runs: dict[str, StepRun] = Field(default_factory=dict)
    approvals: dict[str, Approval] = Field(default_factory=dict)
    manual_done: dict[str, ManualDone] = Field(default_factory=dict)
    status_updates: list[StatusUpdate] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    # Where adapters show this incident (e.g. a chat channel and message ids); opaque here.
    links: dict[str, str] = Field(default_factory=dict)
    timers: TimerState = Field(default_factory=TimerState)
    # Keyed "<checklist id>.<index>"; worked after resolving, so it never requires "open".
    checklist: dict[str, ChecklistItem] = Field(default_factory=dict)
    # The room's own messages on the timeline, keyed by the message's ts.
    pinned: dict[str, PinnedMessage] = Field(default_factory=dict)
    # Set on a game day's incident: its own sandbox, no status page, no paging, a score.
    drill: DrillMark | None = None

    def record(
        self, at: datetime, actor: Actor, event: str, text: str, step_id: str | None = None
    ) -> None:
        """Append to the timeline; entries are never edited or removed."""
        self.timeline.append(
            TimelineEntry(at=at, actor=actor.label, event=event, text=text, step_id=step_id)
        )

    def findings(self) -> list[tuple[str, Finding]]:
        return [(run.step_id, f) for run in self.step_runs.values() for f in run.findings]
