"""Running a stage's diagnostics, one diagnostic, or a verification."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.engine.core import EngineCore, Progress
from bot.engine.incident import Actor, Incident, StepRun
from bot.errors import InvalidRequest
from bot.executors.base import CheckResult
from bot.metrics import DIAGNOSTICS
from bot.playbooks.models import DiagnosticStep, VerificationStep


class DiagnosticsFlow(EngineCore):
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
        result = await self._poll(incident, step.check, step.timeout, step.interval, progress)
        if result.status == "ok" and step.hold:
            result = await self._watch(incident, step, step.hold, result, progress)
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

    async def _watch(
        self,
        incident: Incident,
        step: VerificationStep,
        hold_for: timedelta,
        result: CheckResult,
        progress: Progress | None,
    ) -> CheckResult:
        """Keep checking for `hold_for` after the first pass; a failure ends the watch failed."""
        binding = self.config.binding(incident.service)
        hold = hold_for.total_seconds()
        loop = asyncio.get_running_loop()
        started = loop.time()
        per_try = timedelta(seconds=max(1.0, min(30.0, step.interval.total_seconds())))
        if progress is not None:
            await progress(f"healthy; watching for {_span(hold)}")
        reported = 0
        while (elapsed := loop.time() - started) < hold:
            await asyncio.sleep(min(step.interval.total_seconds(), hold - elapsed))
            result = await self.runner.check(step.check, binding, incident.service, per_try)
            elapsed = loop.time() - started
            if result.status != "ok":
                return result.model_copy(
                    update={
                        "summary": f"stopped passing {_span(elapsed)} into the "
                        f"{_span(hold)} watch: {result.summary}"
                    }
                )
            # One line a minute is enough to show the watch is alive.
            if progress is not None and int(elapsed // 60) > reported:
                reported = int(elapsed // 60)
                await progress(f"still healthy after {_span(elapsed)} of {_span(hold)}")
        return result.model_copy(
            update={"summary": f"healthy throughout the {_span(hold)} watch: {result.summary}"}
        )

    async def _diagnose(self, incident: Incident, step: DiagnosticStep, actor: Actor) -> StepRun:
        started = self.clock()
        binding = self.config.binding(incident.service)
        result = await self.runner.check(step.action, binding, incident.service, step.timeout)
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


def _span(seconds: float) -> str:
    """`15m`, `90s`: how long, as the responder would say it."""
    if seconds >= 60 and seconds % 60 < 1:
        return f"{seconds // 60:.0f}m"
    if seconds >= 60:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds:.0f}s"
