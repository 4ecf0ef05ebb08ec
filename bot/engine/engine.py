"""The incident engine: every flow an adapter offers is one method here."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bot.config import Config
from bot.engine import checklist
from bot.engine.approvals import ApprovalPolicy
from bot.engine.context import template_context
from bot.engine.diagnosis import CauseMatch, suggest_causes
from bot.engine.incident import (
    BOT,
    Actor,
    Approval,
    ChecklistItem,
    Incident,
    ManualDone,
    Mark,
    StatusUpdate,
    StepRun,
    TimerKind,
)
from bot.engine.runner import ActionRunner
from bot.engine.timers import Timer, pending_timers, progress
from bot.errors import ConflictError, InvalidRequest, NotFound
from bot.executors.base import CheckResult, ReadAction
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.models import (
    CommunicationStep,
    DiagnosticStep,
    EscalationLevel,
    FixStep,
    ManualStep,
    Playbook,
    Stage,
    Step,
    VerificationStep,
)
from bot.redact import redact
from bot.store.base import Record, Store
from bot.templates import TemplateRenderer

T = TypeVar("T")
Clock = Callable[[], datetime]
Progress = Callable[[str], Awaitable[None]]
Listener = Callable[[Incident], None]
log = logging.getLogger(__name__)

_CONFLICT_RETRIES = 20
_CLAIM_SECONDS = 300.0
_MAX_SNOOZE_MINUTES = 240


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Engine:
    def __init__(
        self,
        playbooks: dict[str, Playbook],
        config: Config,
        store: Store,
        executors: ExecutorRegistry,
        templates: TemplateRenderer,
        *,
        clock: Clock = _utcnow,
        approval_ttl: timedelta = timedelta(minutes=30),
        fix_timeout: timedelta = timedelta(seconds=60),
    ) -> None:
        self.playbooks = playbooks
        self.config = config
        self.store = store
        self.runner = ActionRunner(executors)
        self.templates = templates
        self.clock = clock
        self.policy = ApprovalPolicy(config.approvers)
        self.approval_ttl = approval_ttl
        self.fix_timeout = fix_timeout
        self._owner = f"{os.uname().nodename}:{os.getpid()}"
        self._locks: dict[str, asyncio.Lock] = {}
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """Call listener with every incident this engine opens or changes, once stored."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- reading ----------------------------------------------------------------------

    async def get(self, incident_id: str) -> Incident:
        record = await self.store.load(incident_id)
        if record is None:
            raise NotFound(f"no incident {incident_id}")
        return Incident.model_validate_json(record.body)

    async def list_incidents(self, status: str | None = "open") -> list[Incident]:
        return [Incident.model_validate_json(r.body) for r in await self.store.list(status)]

    def playbook(self, playbook_id: str) -> Playbook:
        try:
            return self.playbooks[playbook_id]
        except KeyError:
            known = ", ".join(sorted(self.playbooks)) or "none loaded"
            raise NotFound(f"no playbook '{playbook_id}' (known: {known})") from None

    def stage(self, incident: Incident) -> Stage:
        return self.playbook(incident.playbook_id).stages[incident.stage_index]

    def causes(self, incident: Incident) -> list[CauseMatch]:
        return suggest_causes(self.playbook(incident.playbook_id), incident)

    # --- lifecycle --------------------------------------------------------------------

    async def open(
        self, playbook_id: str, service: str, opened_by: Actor, summary: str = ""
    ) -> Incident:
        playbook = self.playbook(playbook_id)
        self.config.binding(service)
        number = await self.store.next_number()
        now = self.clock()
        incident = Incident(
            id=f"INC-{number:04d}",
            playbook_id=playbook.id,
            service=service,
            summary=redact(summary.strip()[:500]),
            severity=playbook.severity,
            opened_at=now,
            opened_by=opened_by.label,
        )
        incident.record(
            now,
            opened_by,
            "opened",
            f"{playbook.title} for {service}"
            + (f": {incident.summary}" if incident.summary else ""),
        )
        await self.store.insert(Record(incident.id, incident.status, 1, incident.model_dump_json()))
        self._changed(incident)
        return incident

    async def claim_commander(self, incident_id: str, actor: Actor) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            incident.commander = actor.label
            incident.record(
                self.clock(), actor, "commander", f"{actor.label} is incident commander"
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def advance(
        self, incident_id: str, actor: Actor, stage_id: str | None = None
    ) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            stages = self.playbook(incident.playbook_id).stages
            if stage_id is None:
                target = incident.stage_index + 1
                if target >= len(stages):
                    raise InvalidRequest("this is the last stage")
            else:
                ids = [s.id for s in stages]
                if stage_id not in ids:
                    raise NotFound(f"no stage '{stage_id}' (stages: {', '.join(ids)})")
                target = ids.index(stage_id)
            incident.stage_index = target
            incident.record(self.clock(), actor, "stage", f"moved to stage: {stages[target].title}")

        return (await self._mutate(incident_id, change, actor))[0]

    async def resolve(
        self, incident_id: str, actor: Actor, root_cause: str = "", resolution: str = ""
    ) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            now = self.clock()
            incident.status = "resolved"
            incident.resolved_at = now
            incident.root_cause = root_cause.strip()[:2000]
            incident.resolution = resolution.strip()[:2000]
            incident.mitigated_at = incident.mitigated_at or now
            for approval in incident.approvals.values():
                if approval.state == "pending":
                    approval.state = "expired"
            incident.record(now, actor, "resolved", incident.resolution or "resolved")

        return (await self._mutate(incident_id, change, actor))[0]

    async def set_links(self, incident_id: str, links: dict[str, str]) -> Incident:
        """Remember where an adapter shows the incident; not a timeline event."""

        def change(incident: Incident) -> None:
            incident.links.update(links)

        return (await self._mutate(incident_id, change, BOT))[0]

    async def note(self, incident_id: str, actor: Actor, event: str, text: str) -> Incident:
        """Record something that happened outside the bot, e.g. the alert resolving."""

        def change(incident: Incident) -> None:
            incident.record(self.clock(), actor, event, redact(text.strip()[:500]))

        return (await self._mutate(incident_id, change, actor))[0]

    # --- diagnostics ------------------------------------------------------------------

    async def run_stage(self, incident_id: str, actor: Actor) -> list[StepRun]:
        """Run every diagnostic of the current stage concurrently, each with its own deadline."""
        incident = await self.get(incident_id)
        self._require_open(incident)
        steps = [s for s in self.stage(incident).all_steps() if isinstance(s, DiagnosticStep)]
        if not steps:
            raise InvalidRequest("this stage has no diagnostics to run")
        runs = await asyncio.gather(*(self._diagnose(incident, step, actor) for step in steps))
        await self._save_runs(incident_id, list(runs), actor)
        return list(runs)

    async def run_step(self, incident_id: str, step_id: str, actor: Actor) -> StepRun:
        incident = await self.get(incident_id)
        self._require_open(incident)
        step = self._step(incident, step_id)
        if not isinstance(step, DiagnosticStep):
            raise InvalidRequest(f"step '{step_id}' is a {step.kind} step, not a diagnostic")
        run = await self._diagnose(incident, step, actor)
        await self._save_runs(incident_id, [run], actor)
        return run

    async def verify(
        self, incident_id: str, step_id: str, actor: Actor, progress: Progress | None = None
    ) -> StepRun:
        """Poll the verification's check until it passes or its deadline passes."""
        incident = await self.get(incident_id)
        self._require_open(incident)
        step = self._step(incident, step_id)
        if not isinstance(step, VerificationStep):
            raise InvalidRequest(f"step '{step_id}' is a {step.kind} step, not a verification")
        started = self.clock()
        result = await self._poll(incident, step.check, step.timeout, step.interval, progress)
        run = StepRun.of(step.id, result, started, self.clock(), actor)

        def change(current: Incident) -> None:
            current.step_runs[step.id] = run
            current.record(
                self.clock(), actor, "verification", f"{step.title}: {result.summary}", step.id
            )
            if result.status == "ok":
                current.mitigated_at = current.mitigated_at or self.clock()

        await self._mutate(incident_id, change, actor)
        return run

    async def _diagnose(self, incident: Incident, step: DiagnosticStep, actor: Actor) -> StepRun:
        started = self.clock()
        binding = self.config.binding(incident.service)
        result = await self.runner.check(step.action, binding, incident.service, step.timeout)
        return StepRun.of(step.id, result, started, self.clock(), actor)

    async def _save_runs(self, incident_id: str, runs: list[StepRun], actor: Actor) -> None:
        def change(incident: Incident) -> None:
            # In the order they finished, so the timeline reads in time order.
            for run in sorted(runs, key=lambda r: r.finished_at):
                incident.step_runs[run.step_id] = run
                incident.record(
                    run.finished_at,
                    actor,
                    "diagnostic",
                    f"{run.step_id}: {run.status}: {run.summary}",
                    run.step_id,
                )

        await self._mutate(incident_id, change, actor)

    async def _poll(
        self,
        incident: Incident,
        check: ReadAction,
        timeout: timedelta,
        interval: timedelta,
        progress: Progress | None,
    ) -> CheckResult:
        binding = self.config.binding(incident.service)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout.total_seconds()
        attempt = 0
        last: str | None = None
        while True:
            attempt += 1
            per_try = timedelta(seconds=max(1.0, min(30.0, deadline - loop.time())))
            result = await self.runner.check(check, binding, incident.service, per_try)
            # Report changes, not every poll: a slow rollout must not flood the channel.
            if progress is not None and (result.status != last or attempt % 10 == 0):
                await progress(f"check {attempt}: {result.status}: {result.summary}")
            last = result.status
            remaining = deadline - loop.time()
            if result.status == "ok" or remaining <= 0:
                if result.status != "ok":
                    result = result.model_copy(
                        update={
                            "summary": f"not healthy after {timeout.total_seconds():.0f}s: "
                            + result.summary
                        }
                    )
                return result
            await asyncio.sleep(min(interval.total_seconds(), remaining))

    # --- fixes ------------------------------------------------------------------------

    async def request_fix(self, incident_id: str, step_id: str, requester: Actor) -> Approval:
        """Dry-run the fix and record an approval request with its preview."""
        incident = await self.get(incident_id)
        self._require_open(incident)
        step = self._step(incident, step_id)
        if not isinstance(step, FixStep):
            raise InvalidRequest(f"step '{step_id}' is a {step.kind} step, not a fix")
        for approval in incident.approvals.values():
            if (
                approval.step_id == step_id
                and approval.state == "pending"
                and not self._expired(approval)
            ):
                return approval
        binding = self.config.binding(incident.service)
        preview = await self.runner.preview(
            step.action, binding, incident.service, self.fix_timeout
        )
        if preview.error:
            raise InvalidRequest(f"cannot preview '{step.title}': {preview.error}")

        def change(current: Incident) -> Approval:
            now = self.clock()
            approval = Approval(
                id=f"A{len(current.approvals) + 1}",
                step_id=step.id,
                title=step.title,
                destructive=step.destructive,
                preview=preview,
                requested_by=requester,
                requested_at=now,
                expires_at=now + self.approval_ttl,
            )
            current.approvals[approval.id] = approval
            current.record(
                now,
                requester,
                "fix-requested",
                f"{step.title}: {preview.summary} (approval {approval.id})",
                step.id,
            )
            return approval

        return (await self._mutate(incident_id, change, requester))[1]

    async def deny(
        self, incident_id: str, approval_id: str, actor: Actor, reason: str = ""
    ) -> Approval:
        def change(incident: Incident) -> Approval:
            approval = self._pending(incident, approval_id)
            if not self.policy.may_approve(actor) and actor.id != approval.requested_by.id:
                raise InvalidRequest(f"{actor.label} may not deny fixes")
            approval.state, approval.decided_by, approval.decided_at = "denied", actor, self.clock()
            incident.record(
                self.clock(),
                actor,
                "fix-denied",
                f"{approval.title}: denied"
                + (f" ({reason.strip()[:200]})" if reason.strip() else ""),
                approval.step_id,
            )
            return approval

        return (await self._mutate(incident_id, change, actor))[1]

    async def approve(
        self, incident_id: str, approval_id: str, approver: Actor, progress: Progress | None = None
    ) -> Approval:
        """Approve and run a fix exactly once, then verify it if the step says how."""
        incident = await self.get(incident_id)
        self._require_open(incident)
        approval = self._pending(incident, approval_id)
        self.policy.check(approval, approver)
        # The claim is what makes double clicks, retries and replicas run the fix once.
        # It only has to cover the moment until "approved" is stored, which refuses any later
        # click by itself; the expiry frees an approval whose approver died in that moment.
        if not await self.store.claim(
            f"fix:{incident_id}:{approval_id}", self._owner, ttl_s=_CLAIM_SECONDS
        ):
            raise InvalidRequest(
                f"approval {approval_id} is already being handled; a fix runs once"
            )

        def approved(current: Incident) -> FixStep:
            pending = self._pending(current, approval_id)
            pending.state, pending.decided_by, pending.decided_at = (
                "approved",
                approver,
                self.clock(),
            )
            current.record(
                self.clock(),
                approver,
                "fix-approved",
                f"{pending.title}: approved by {approver.label} "
                f"(requested by {pending.requested_by.label})",
                pending.step_id,
            )
            step = self._step(current, pending.step_id)
            assert isinstance(step, FixStep)
            return step

        step = (await self._mutate(incident_id, approved, approver))[1]
        binding = self.config.binding(incident.service)
        result = await self.runner.apply(step.action, binding, incident.service, self.fix_timeout)

        def applied(current: Incident) -> None:
            done = current.approvals[approval_id]
            done.state = "applied" if result.status == "ok" else "failed"
            done.result = result
            current.record(
                self.clock(),
                BOT,
                "fix-applied" if result.status == "ok" else "fix-failed",
                f"{done.title}: {result.summary}",
                done.step_id,
            )

        await self._mutate(incident_id, applied, BOT)
        if result.status == "ok" and step.verify is not None:
            verification = await self._poll(
                incident, step.verify, step.verify_timeout, timedelta(seconds=2), progress
            )

            def verified(current: Incident) -> None:
                current.approvals[approval_id].verification = verification
                current.record(
                    self.clock(),
                    BOT,
                    "verification",
                    f"after {step.title}: {verification.summary}",
                    step.id,
                )
                if verification.status == "ok":
                    current.mitigated_at = current.mitigated_at or self.clock()

            await self._mutate(incident_id, verified, BOT)
        return (await self.get(incident_id)).approvals[approval_id]

    # --- manual items and communication -----------------------------------------------

    async def mark_done(
        self, incident_id: str, step_id: str, actor: Actor, note: str = ""
    ) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            step = self._step(incident, step_id)
            if not isinstance(step, ManualStep | CommunicationStep):
                raise InvalidRequest(
                    f"step '{step_id}' is a {step.kind} step; only manual items are marked done"
                )
            incident.manual_done[step_id] = ManualDone(
                by=actor.label, at=self.clock(), note=note.strip()[:500]
            )
            incident.record(
                self.clock(),
                actor,
                "manual-done",
                step.title + (f" ({note.strip()[:200]})" if note.strip() else ""),
                step_id,
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def render_status(self, incident_id: str, name: str, eta: str = "") -> str:
        incident = await self.get(incident_id)
        playbook = self.playbook(incident.playbook_id)
        communication = playbook.communications.get(name)
        if communication is None:
            raise NotFound(
                f"no status template '{name}' (templates: {', '.join(playbook.communications)})"
            )
        if "eta" in communication.needs and not eta.strip():
            raise InvalidRequest(f"the '{name}' update needs an ETA, e.g. eta=45m or eta=14:30 UTC")
        context = template_context(
            incident, playbook, self.config, self.clock(), eta=eta.strip()[:100]
        )
        return self.templates.render(communication.template, context)

    async def post_status(self, incident_id: str, name: str, text: str, actor: Actor) -> Incident:
        text = text.strip()
        if not text:
            raise InvalidRequest("a status update cannot be empty")

        def change(incident: Incident) -> None:
            self._require_open(incident)
            now = self.clock()
            incident.status_updates.append(
                StatusUpdate(template=name, text=text[:3000], posted_by=actor.label, posted_at=now)
            )
            incident.record(now, actor, "status-update", f"{name}: {text.splitlines()[0][:200]}")

        return (await self._mutate(incident_id, change, actor))[0]

    async def post_incident_document(self, incident_id: str) -> str:
        incident = await self.get(incident_id)
        playbook = self.playbook(incident.playbook_id)
        context = template_context(incident, playbook, self.config, self.clock())
        return self.templates.render(playbook.post_incident_document, context)

    # --- post-incident checklist --------------------------------------------------------

    async def check_item(
        self, incident_id: str, key: str, actor: Actor, done: bool = True
    ) -> Incident:
        """Tick (or untick) a post-incident task; allowed once resolved, when the work happens."""

        def change(incident: Incident) -> None:
            _, text = checklist.find(self.playbook(incident.playbook_id), key)
            item = incident.checklist.setdefault(key, ChecklistItem())
            if item.done == done:
                who = f" by {item.done_by}" if item.done else ""
                raise InvalidRequest(f"'{text}' is already {'done' if done else 'open'}{who}")
            now = self.clock()
            item.done, item.done_by, item.done_at = (
                done,
                actor.label if done else "",
                now if done else None,
            )
            incident.record(now, actor, "checklist-done" if done else "checklist-reopened", text)

        return (await self._mutate(incident_id, change, actor))[0]

    async def assign_item(self, incident_id: str, key: str, owner: str, actor: Actor) -> Incident:
        """Give a post-incident task an owner (an empty owner unassigns it)."""
        owner = redact(" ".join(owner.split())[:100])

        def change(incident: Incident) -> None:
            _, text = checklist.find(self.playbook(incident.playbook_id), key)
            incident.checklist.setdefault(key, ChecklistItem()).owner = owner
            incident.record(
                self.clock(), actor, "checklist-owner", f"{text}: {owner or 'unassigned'}"
            )

        return (await self._mutate(incident_id, change, actor))[0]

    # --- escalation and reminders -----------------------------------------------------

    async def escalate_now(self, incident_id: str, level: int, actor: Actor) -> Incident:
        """Record that a level was escalated to; the caller notifies its contacts."""

        def change(incident: Incident) -> None:
            self._require_open(incident)
            found = self._level(incident, level)
            done = incident.timers.escalated.get(level)
            if done is not None:
                raise InvalidRequest(f"level {level} was already escalated by {done.by}")
            incident.timers.escalated[level] = Mark(by=actor.label, at=self.clock())
            incident.record(
                self.clock(), actor, "escalated", f"escalated to level {level} ({found.title})"
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def acknowledge_escalation(self, incident_id: str, level: int, actor: Actor) -> Incident:
        """ "We're on it": stop nudging about this level without escalating."""

        def change(incident: Incident) -> None:
            self._require_open(incident)
            found = self._level(incident, level)
            done = incident.timers.acknowledged.get(level)
            if done is not None:
                raise InvalidRequest(f"level {level} was already acknowledged by {done.by}")
            incident.timers.acknowledged[level] = Mark(by=actor.label, at=self.clock())
            incident.record(
                self.clock(),
                actor,
                "escalation-acknowledged",
                f"on it: level {level} ({found.title}) not escalated for now",
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def snooze(
        self, incident_id: str, kind: TimerKind, minutes: int, actor: Actor
    ) -> Incident:
        if kind not in ("escalation", "reminder"):
            raise InvalidRequest(f"cannot snooze '{kind}': snooze escalation or reminder")
        if not 1 <= minutes <= _MAX_SNOOZE_MINUTES:
            raise InvalidRequest(f"snooze for 1 to {_MAX_SNOOZE_MINUTES} minutes, not {minutes}")

        def change(incident: Incident) -> None:
            self._require_open(incident)
            until = self.clock() + timedelta(minutes=minutes)
            incident.timers.snoozed_until[kind] = until
            incident.record(
                self.clock(),
                actor,
                "snoozed",
                f"{kind} nudges snoozed for {minutes} min (until {until:%H:%M} UTC)",
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def mute_reminders(self, incident_id: str, actor: Actor, muted: bool = True) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            if incident.timers.reminders_muted == muted:
                raise InvalidRequest(f"status reminders are already {'muted' if muted else 'on'}")
            incident.timers.reminders_muted = muted
            incident.record(
                self.clock(),
                actor,
                "reminders-muted" if muted else "reminders-unmuted",
                "status-update reminders " + ("muted" if muted else "back on"),
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def fire_timer(self, incident_id: str, key: str, late: bool) -> tuple[Incident, Timer]:
        """Record that a due timer fired; InvalidRequest if it is no longer due or fired."""

        def change(incident: Incident) -> Timer:
            self._require_open(incident)
            now = self.clock()
            playbook = self.playbook(incident.playbook_id)
            timer = next((t for t in pending_timers(incident, playbook) if t.key == key), None)
            if timer is None:
                raise InvalidRequest(f"timer {key} of {incident.id} is no longer pending")
            incident.timers.fired.append(key)
            lateness = " (late: the bot was not running when it was due)" if late else ""
            if timer.level is not None:
                event = "escalation-due"
                what = f"escalation to level {timer.level.level} ({timer.level.title}) is due"
            else:
                incident.timers.last_reminder_at = now
                event = "status-reminder"
                last = incident.status_updates[-1:]
                since = f"last one {last[0].posted_at:%H:%M} UTC" if last else "none posted yet"
                what = f"a status update is due ({since})"
            incident.record(now, BOT, event, f"{what}{lateness}: {progress(incident, now)}")
            return timer

        return await self._mutate(incident_id, change, BOT)

    # --- helpers ----------------------------------------------------------------------

    def _changed(self, incident: Incident) -> None:
        for listener in list(self._listeners):
            try:
                listener(incident)
            except Exception as exc:
                # A listener (the scheduler) must never fail the responder's action.
                log.error("change listener failed for %s: %s", incident.id, exc)

    def _level(self, incident: Incident, level: int) -> EscalationLevel:
        levels = self.playbook(incident.playbook_id).escalation
        for found in levels:
            if found.level == level:
                return found
        known = ", ".join(str(lv.level) for lv in levels) or "none defined"
        raise InvalidRequest(f"no escalation level {level} (levels: {known})")

    async def _mutate(
        self, incident_id: str, change: Callable[[Incident], T], actor: Actor
    ) -> tuple[Incident, T]:
        """Load, change and compare-and-set, retrying when another writer got there first.

        Writers in this process queue on a per-incident lock, so only other replicas can
        conflict; a burst of clicks on one incident does not spin through retries.
        """
        lock = self._locks.setdefault(incident_id, asyncio.Lock())
        async with lock:
            for _ in range(_CONFLICT_RETRIES):
                record = await self.store.load(incident_id)
                if record is None:
                    raise NotFound(f"no incident {incident_id}")
                incident = Incident.model_validate_json(record.body)
                result = change(incident)
                if actor.id != BOT.id and incident.acknowledged_at is None:
                    incident.acknowledged_at = self.clock()
                body = incident.model_dump_json()
                try:
                    await self.store.replace(
                        Record(record.id, incident.status, record.version, body)
                    )
                except ConflictError:
                    continue
                self._changed(incident)
                return incident, result
        raise ConflictError(f"{incident_id} is changing too fast; try again")

    def _step(self, incident: Incident, step_id: str) -> Step:
        found = self.playbook(incident.playbook_id).find_step(step_id)
        if found is None:
            raise NotFound(f"no step '{step_id}' in playbook {incident.playbook_id}")
        return found[1]

    def _pending(self, incident: Incident, approval_id: str) -> Approval:
        approval = incident.approvals.get(approval_id)
        if approval is None:
            raise NotFound(f"no approval {approval_id} in {incident.id}")
        if approval.state != "pending":
            who = f" by {approval.decided_by.label}" if approval.decided_by else ""
            raise InvalidRequest(f"approval {approval_id} is already {approval.state}{who}")
        if self._expired(approval):
            raise InvalidRequest(f"approval {approval_id} has expired; request the fix again")
        return approval

    def _expired(self, approval: Approval) -> bool:
        return self.clock() >= approval.expires_at

    @staticmethod
    def _require_open(incident: Incident) -> None:
        if incident.status != "open":
            raise InvalidRequest(f"{incident.id} is {incident.status}")
