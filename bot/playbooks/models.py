"""A playbook: one runbook as data. Validated at load time and by `runbook-bot lint`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.executors.base import Scalar
from bot.executors.catalog import AnyRead, AnyWrite
from bot.playbooks.duration import Duration

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _StepBase(_Model):
    id: Slug
    title: str = Field(min_length=1)
    # The runbook's own command, shown to the responder for reference; never executed.
    command: str | None = None
    note: str | None = None
    # For a playbook written for both platforms: the step applies only to services on this one.
    platform: Literal["kubernetes", "docker"] | None = None


class DiagnosticStep(_StepBase):
    """A read-only check the bot runs."""

    kind: Literal["diagnostic"]
    action: AnyRead
    timeout: Duration = timedelta(seconds=10)


class FixStep(_StepBase):
    """A change; runs only after approval, once, after a dry-run preview."""

    kind: Literal["fix"]
    action: AnyWrite
    # Destructive fixes need an approver other than the requester.
    destructive: bool = False
    verify: AnyRead | None = None
    # How long `verify` may take to pass first (the wait and the hold come on top).
    verify_timeout: Duration = timedelta(minutes=1)
    # Wait this long after the fix before the first check, as a runbook's "sleep 30" does:
    # a restarted process can answer for a moment and still fall over.
    verify_wait: Duration | None = None
    # Once `verify` passes it must keep passing this long ("monitor", or until an under-sized
    # container would have been OOM-killed again); a failure meanwhile fails the verification.
    verify_hold: Duration | None = None

    @model_validator(mode="after")
    def _verification(self) -> FixStep:
        if self.verify is None and (self.verify_wait or self.verify_hold):
            raise ValueError("verify_wait and verify_hold need a verify check")
        for name in ("verify_wait", "verify_hold"):
            value = getattr(self, name)
            if value is not None and not timedelta(seconds=1) <= value <= timedelta(hours=1):
                raise ValueError(f"{name} must be between 1s and 1h")
        return self


class ManualStep(_StepBase):
    """A checklist item a human does; the bot shows the command and tracks it."""

    kind: Literal["manual"]


# Who a communication reaches: the incident's own room, the announcements channel, the public
# status channel, the public status page (see bot/engine/audience.py).
Audience = Literal["internal", "incidents-channel", "status-channel", "status-page"]
# What a communication without an audience reaches: the room, the status channel and page.
PUBLIC: tuple[Audience, ...] = ("internal", "status-channel", "status-page")


class CommunicationStep(_StepBase):
    """A message to fill from one of the playbook's communication templates."""

    kind: Literal["communication"]
    template: Slug
    # Where the runbook says this message goes; lint holds it to the communication's audience.
    audience: Audience | None = None


class VerificationStep(_StepBase):
    """Polls a read-only check until it passes or the deadline passes."""

    kind: Literal["verification"]
    check: AnyRead
    timeout: Duration = timedelta(minutes=5)
    interval: Duration = timedelta(seconds=5)
    # A watch: once the check passes it must keep passing this long (e.g. "monitor for 15
    # minutes"); a failure meanwhile ends the verification as failed. The timeout bounds only
    # the wait for the first pass.
    hold: Duration | None = None


Step = Annotated[
    DiagnosticStep | FixStep | ManualStep | CommunicationStep | VerificationStep,
    Field(discriminator="kind"),
]


class Symptom(_Model):
    """A symptom as the runbook words it, and optionally a predicate over findings.

    Without `finding` it is shown to the responder but never matched automatically. With
    `rules_out: true` it is a symptom the cause cannot show: when it holds, the cause is ruled
    out and not suggested.
    """

    text: str
    finding: str | None = None
    # Only this step's findings count (its latest run); else any step's current findings.
    step: Slug | None = None
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    contains: str | None = None
    at_least: float | None = None
    at_most: float | None = None
    # Every pod or container one check looked at must show it, not just one of them.
    all: bool = False
    # The cause cannot be present with this symptom: when it holds, the cause is not suggested.
    rules_out: bool = False

    @model_validator(mode="after")
    def _one_operator(self) -> Symptom:
        operators = [
            op
            for op in ("equals", "not_equals", "contains", "at_least", "at_most")
            if getattr(self, op) is not None
        ]
        if self.finding and len(operators) != 1:
            raise ValueError("a symptom with a finding needs exactly one operator")
        if not self.finding and (operators or self.step):
            raise ValueError("an operator needs a finding to test")
        if not self.finding and (self.all or self.rules_out):
            raise ValueError("`all` and `rules_out` need a finding to test")
        return self

    @property
    def specificity(self) -> int:
        """How much a match says: a named value (`equals`, `not_equals`, `contains`) beats a bound.

        A bound (`at_least`, `at_most`) is a judgement ("high memory") that many causes share;
        every pod showing a symptom says more than one pod showing it.
        """
        if not self.finding:
            return 0
        bound = self.at_least is not None or self.at_most is not None
        return (2 if bound else 3) + (1 if self.all else 0)


class RootCause(_Model):
    id: Slug
    title: str
    symptoms: list[Symptom] = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
    # Steps elsewhere in the playbook worth trying for this cause, e.g. a rollback.
    see_also: list[Slug] = Field(default_factory=list)


class Window(_Model):
    start: Duration
    end: Duration | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end is not None and self.end <= self.start:
            raise ValueError("window end must be after its start")
        return self


class Stage(_Model):
    id: Slug
    title: str
    window: Window | None = None
    steps: list[Step] = Field(default_factory=list)
    root_causes: list[RootCause] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Stage:
        if not self.steps and not self.root_causes:
            raise ValueError("a stage needs steps or root causes")
        return self

    def all_steps(self) -> list[Step]:
        return [*self.steps, *(s for cause in self.root_causes for s in cause.steps)]


# What a responder can report that a runbook escalates on ("if security-related").
Flag = Literal["security-suspected", "data-loss", "customer-escalations"]


class MetricCondition(_Model):
    """A PromQL expression the bot evaluates; it holds while the answer is not empty.

    Written like an alerting rule's expression, with its comparison: `... > 2`.
    """

    query: str = Field(min_length=1)
    held_for: Duration = timedelta(0)


class EscalationLevel(_Model):
    """A level fires on whichever of its triggers comes first.

    A level with no trigger is who works the incident from the start (the seeds' "level 1:
    follow this runbook"): shown, never nudged; only the first level may be one.
    """

    level: int = Field(ge=1, le=9)
    title: str
    after: Duration | None = None
    criteria: list[str] = Field(default_factory=list)
    # Escalate sooner once this many fixes did not help (failed, or applied but not verified),
    # as in "escalate if the service won't start after 3 restart attempts".
    after_failed_fixes: int | None = Field(default=None, ge=1, le=20)
    # Escalate once a responder raises one of these ("if security-related").
    on_flags: list[Flag] = Field(default_factory=list)
    # Escalate once the condition has held this long ("P99 > 2s for > 10 minutes").
    metric: MetricCondition | None = None
    # Reaching this level also pages, through the config's `paging` service.
    page: bool = False

    def triggered(self) -> bool:
        """Whether anything but a responder's button escalates to this level."""
        return bool(
            self.after is not None or self.after_failed_fixes or self.on_flags or self.metric
        )


class Communication(_Model):
    title: str
    template: str = Field(pattern=r"^[A-Za-z0-9_./-]+\.j2$")
    needs: list[Literal["eta"]] = Field(default_factory=list)
    # Where posting it sends it; the room always keeps a record of what went where.
    audience: list[Audience] = Field(default_factory=lambda: list(PUBLIC), min_length=1)
    # The status page's impact while this update is the latest ("impact_override=major").
    impact: Literal["none", "minor", "major", "critical"] | None = None

    @model_validator(mode="after")
    def _impact_on_the_page(self) -> Communication:
        if self.impact is not None and "status-page" not in self.audience:
            raise ValueError("an impact needs the status-page audience")
        return self


class Checklist(_Model):
    id: Slug
    title: str
    within: Duration
    items: list[str] = Field(min_length=1)
    # A root cause's id: the checklist is only for incidents whose findings matched that cause
    # (the runbook's "Out of memory: follow-up"); without it, every incident gets it.
    cause: Slug | None = None


# Every incident has these; a playbook's `roles:` adds its own (a scribe, a liaison).
BUILTIN_ROLES: dict[str, str] = {
    "commander": "commander",
    "communications": "communications lead",
    "operations": "operations lead",
}


class Role(_Model):
    """A role the runbook names beyond the built-in three, assigned like them."""

    id: Slug
    title: str = Field(min_length=1, max_length=40)


class Playbook(_Model):
    id: Slug
    title: str
    alerts: list[str] = Field(default_factory=list)
    # The alert labels tried in order to name the service; the value must be a configured service.
    alert_service_labels: list[str] = Field(
        default_factory=lambda: ["service", "job", "app", "namespace"]
    )
    severity: Literal["critical", "high", "medium", "low"]
    # `any`: steps name their own platform where it matters (see a step's `platform`).
    platform: Literal["kubernetes", "docker", "any"]
    impact: str = ""
    status_update_interval: Duration = timedelta(minutes=15)
    stages: list[Stage] = Field(min_length=1)
    escalation: list[EscalationLevel] = Field(default_factory=list)
    communications: dict[Slug, Communication] = Field(default_factory=dict)
    post_incident: list[Checklist] = Field(default_factory=list)
    post_incident_document: str = Field(
        default="post-incident.md.j2", pattern=r"^[A-Za-z0-9_./-]+\.j2$"
    )
    # Roles beyond commander, communications lead and operations lead (a scribe, a liaison),
    # each assigned from the headline like them; an id may not repeat a built-in one.
    roles: list[Role] = Field(default_factory=list, max_length=7)

    @model_validator(mode="after")
    def _roles_are_distinct(self) -> Playbook:
        seen = set(BUILTIN_ROLES)
        for role in self.roles:
            if role.id in seen:
                raise ValueError(
                    f"role '{role.id}' is already defined (built in: {', '.join(BUILTIN_ROLES)})"
                )
            seen.add(role.id)
        return self

    def role_titles(self) -> dict[str, str]:
        """Every role of an incident run with this playbook, id -> title, built-in ones first."""
        return {**BUILTIN_ROLES, **{role.id: role.title for role in self.roles}}

    @model_validator(mode="after")
    def _escalation_fires(self) -> Playbook:
        for index, level in enumerate(self.escalation):
            if not level.triggered() and index > 0:
                raise ValueError(
                    f"escalation level {level.level} has no trigger (after, after_failed_fixes,"
                    " on_flags or metric); only the first level may hold from the start"
                )
        return self

    @model_validator(mode="after")
    def _steps_reach_their_audience(self) -> Playbook:
        for _, step in self.steps():
            if not isinstance(step, CommunicationStep) or step.audience is None:
                continue
            found = self.communications.get(step.template)
            if found is not None and step.audience not in found.audience:
                raise ValueError(
                    f"step '{step.id}' is for the {step.audience} audience but communication"
                    f" '{step.template}' goes to {', '.join(found.audience)}"
                )
        return self

    def steps(self) -> list[tuple[Stage, Step]]:
        return [(stage, step) for stage in self.stages for step in stage.all_steps()]

    def find_step(self, step_id: str) -> tuple[int, Step] | None:
        for index, stage in enumerate(self.stages):
            for step in stage.all_steps():
                if step.id == step_id:
                    return index, step
        return None

    def root_causes(self) -> list[RootCause]:
        return [cause for stage in self.stages for cause in stage.root_causes]

    def for_platform(self, platform: str) -> Playbook:
        """The playbook as a service on `platform` runs it: other platforms' steps left out.

        Stages keep their places, so an incident's stage index means the same in both.
        """
        if self.platform != "any":
            return self

        def keep(steps: list[Step]) -> list[Step]:
            return [s for s in steps if s.platform in (None, platform)]

        stages = [
            stage.model_copy(
                update={
                    "steps": keep(stage.steps),
                    "root_causes": [
                        c.model_copy(update={"steps": keep(c.steps)}) for c in stage.root_causes
                    ],
                }
            )
            for stage in self.stages
        ]
        return self.model_copy(update={"stages": stages})
