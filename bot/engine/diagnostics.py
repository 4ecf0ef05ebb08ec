"""Running a stage's diagnostics, one diagnostic, or a verification."""

from __future__ import annotations

import asyncio

from bot.engine.core import Progress
from bot.engine.incident import Actor, Incident, StepRun
from bot.engine.verification import Hold, VerificationFlow, span
from bot.errors import InvalidRequest
from bot.executors.base import CheckResult
from bot.metrics import DIAGNOSTICS
from bot.playbooks.models import DiagnosticStep, VerificationStep


class DiagnosticsFlow(VerificationFlow):
    """Read-only checks, concurrently, each with its own deadline."""

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
        result = await self._confirm(
            incident, step.check, timeout=step.timeout, interval=step.interval, progress=progress
        )
        if result.status == "ok" and step.hold:
            held = await self._watch(
                incident, step.check, step.hold, step.interval, result, progress
            )
            result = _watched(held, step.hold.total_seconds())
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
        target = self.target(incident)
        result = await target.runner.check(
            step.action, target.binding, incident.service, step.timeout
        )
        DIAGNOSTICS.inc(result=result.status, playbook=incident.playbook_id)
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


def _watched(held: Hold, hold: float) -> CheckResult:
    """A verification step's watch in its words: healthy throughout, or when it stopped."""
    if held.broke_after is not None:
        summary = (
            f"stopped passing {span(held.broke_after)} into the {span(hold)} watch: "
            f"{held.result.summary}"
        )
    else:
        summary = f"healthy throughout the {span(hold)} watch: {held.result.summary}"
    return held.result.model_copy(update={"summary": summary})
