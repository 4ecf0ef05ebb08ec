"""The engine's state handling every flow shares: loading, compare-and-set, lookups."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bot.config import Config
from bot.engine import drill_score
from bot.engine.approvals import ApprovalPolicy
from bot.engine.incident import BOT, Actor, Approval, Incident
from bot.engine.redaction import redact_incident
from bot.engine.root_causes import CauseMatch, suggest_causes
from bot.engine.runner import ActionRunner
from bot.engine.targets import Target, unreachable
from bot.errors import ConflictError, InvalidRequest, NotFound
from bot.executors.base import CheckResult, ReadAction
from bot.executors.registry import ExecutorRegistry
from bot.logs import working_on
from bot.playbooks.models import EscalationLevel, Playbook, Stage, Step
from bot.store.base import Record, Store
from bot.templates import TemplateRenderer

T = TypeVar("T")
Clock = Callable[[], datetime]
Progress = Callable[[str], Awaitable[None]]
Listener = Callable[[Incident], None]
WriteCheck = Callable[[], None]
log = logging.getLogger(__name__)

_CONFLICT_RETRIES = 20


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EngineCore:
    """Incidents in the store, the playbooks and config they run on, and change listeners."""

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
        self._write_checks: list[WriteCheck] = []
        self._platform_views: dict[tuple[str, str], Playbook] = {}
        # Drill incident id -> its sandbox; only the process that started one can reach it.
        self.drill_targets: dict[str, Target] = {}
        # Set by the terminal drill, whose throw-away store is all practice: its stats count it.
        self.practice_store = False

    @property
    def owner(self) -> str:
        """This process, as a drill's mark names the one that holds its sandbox."""
        return self._owner

    def on_change(self, listener: Listener) -> None:
        """Call listener with every incident this engine opens or changes, once stored."""
        self._listeners.append(listener)

    def check_writes(self, check: WriteCheck) -> None:
        """Call `check` right before every incident write; an exception it raises stops the write
        (an adapter refuses a decision on a request that came too late)."""
        self._write_checks.append(check)

    def _before_write(self) -> None:
        for check in self._write_checks:
            check()

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- reading ----------------------------------------------------------------------

    async def get(self, incident_id: str) -> Incident:
        # Every flow reads or changes its incident through here or _mutate: the choke point
        # that tags the rest of the task's log lines with the incident.
        working_on(incident_id)
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

    def playbook_for(self, incident: Incident) -> Playbook:
        """The incident's playbook as its service's platform runs it (see `for_platform`)."""
        playbook = self.playbook(incident.playbook_id)
        service = self.config.services.get(incident.service)
        if incident.drill is not None:
            platform = incident.drill.platform
        elif service is not None:
            platform = service.platform
        else:
            return playbook
        if playbook.platform != "any":
            return playbook
        key = (playbook.id, platform)
        if key not in self._platform_views:
            self._platform_views[key] = playbook.for_platform(platform)
        return self._platform_views[key]

    def target(self, incident: Incident) -> Target:
        """Where the incident's steps run; a drill never reaches the real bindings."""
        if incident.drill is None:
            return Target(self.config.binding(incident.service), self.runner)
        found = self.drill_targets.get(incident.id)
        if found is None:
            raise unreachable(incident, self._owner)
        return found

    def stage(self, incident: Incident) -> Stage:
        return self.playbook_for(incident).stages[incident.stage_index]

    def causes(self, incident: Incident) -> list[CauseMatch]:
        return suggest_causes(self.playbook_for(incident), incident)

    # --- helpers ----------------------------------------------------------------------

    def _changed(self, incident: Incident) -> None:
        for listener in list(self._listeners):
            try:
                listener(incident)
            except Exception as exc:
                # A listener (the scheduler) must never fail the responder's action.
                log.error("change listener failed for %s: %s", incident.id, exc)

    def _level(self, incident: Incident, level: int) -> EscalationLevel:
        levels = self.playbook_for(incident).escalation
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
        working_on(incident_id)
        lock = self._locks.setdefault(incident_id, asyncio.Lock())
        async with lock:
            for _ in range(_CONFLICT_RETRIES):
                record = await self.store.load(incident_id)
                if record is None:
                    raise NotFound(f"no incident {incident_id}")
                incident = Incident.model_validate_json(record.body)
                stored = len(incident.timeline), len(incident.status_updates)
                result = change(incident)
                if actor.id != BOT.id and incident.acknowledged_at is None:
                    incident.acknowledged_at = self.clock()
                if incident.drill is not None:
                    playbook = self.playbook_for(incident)
                    drill_score.observe(incident, playbook, stored[0], self.clock())
                redact_incident(incident, stored)
                body = incident.model_dump_json()
                self._before_write()
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
        found = self.playbook_for(incident).find_step(step_id)
        if found is None:
            whole = self.playbook(incident.playbook_id).find_step(step_id)
            if whole is not None and whole[1].platform:
                raise InvalidRequest(
                    f"step '{step_id}' is for {whole[1].platform} services; "
                    f"{incident.service} is not one"
                )
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

    async def _poll(
        self,
        incident: Incident,
        check: ReadAction,
        timeout: timedelta,
        interval: timedelta,
        progress: Progress | None,
    ) -> CheckResult:
        target = self.target(incident)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout.total_seconds()
        attempt = 0
        last: str | None = None
        while True:
            attempt += 1
            per_try = timedelta(seconds=max(1.0, min(30.0, deadline - loop.time())))
            result = await target.runner.check(check, target.binding, incident.service, per_try)
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
