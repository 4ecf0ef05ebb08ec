"""Verifying: wait as the runbook says, poll until healthy, then require it to stay healthy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from bot.engine.core import EngineCore, Progress
from bot.engine.incident import Incident
from bot.executors.base import CheckResult, ReadAction
from bot.playbooks.models import FixStep

# How often a fix's verification checks, while waiting for the first pass and while holding.
_VERIFY_INTERVAL = timedelta(seconds=2)


@dataclass(frozen=True)
class Hold:
    """How a verification ended its watch: the last result, and when it broke (None: held)."""

    result: CheckResult
    broke_after: float | None


class VerificationFlow(EngineCore):
    """The one way a fix's `verify` and a verification step's `check` are confirmed."""

    async def _confirm(
        self,
        incident: Incident,
        check: ReadAction,
        *,
        timeout: timedelta,
        interval: timedelta,
        progress: Progress | None,
        wait: timedelta | None = None,
    ) -> CheckResult:
        """Fail at once on a check that cannot run; else wait, then poll until it passes."""
        target = self.target(incident)
        reason = target.runner.unrunnable(check, target.binding, incident.service)
        if reason is not None:
            # No retry can bind a missing setting: say so now, not after the deadline.
            return CheckResult(status="error", summary=f"this check cannot run: {reason}")
        if wait:
            if progress is not None:
                await progress(f"waiting {span(wait.total_seconds())} before checking")
            await asyncio.sleep(wait.total_seconds())
        return await self._poll(incident, check, timeout, interval, progress)

    async def _verify_fix(
        self, incident: Incident, step: FixStep, progress: Progress | None
    ) -> CheckResult:
        """The step's `verify`, after its wait, passing and then holding for its hold."""
        assert step.verify is not None
        result = await self._confirm(
            incident,
            step.verify,
            timeout=step.verify_timeout,
            interval=_VERIFY_INTERVAL,
            progress=progress,
            wait=step.verify_wait,
        )
        if result.status != "ok" or step.verify_hold is None:
            return result
        hold = step.verify_hold
        held = await self._watch(incident, step.verify, hold, _VERIFY_INTERVAL, result, progress)
        if held.broke_after is None:
            return held.result.model_copy(
                update={"summary": f"{held.result.summary}; held for {span(hold.total_seconds())}"}
            )
        broke = f"{span(held.broke_after)} into the {span(hold.total_seconds())} hold"
        return held.result.model_copy(
            update={"summary": f"{held.result.summary} (stopped passing {broke})"}
        )

    async def _watch(
        self,
        incident: Incident,
        check: ReadAction,
        hold_for: timedelta,
        interval: timedelta,
        result: CheckResult,
        progress: Progress | None,
    ) -> Hold:
        """Keep checking for `hold_for` after the first pass; the first failure ends the watch."""
        target = self.target(incident)
        hold = hold_for.total_seconds()
        loop = asyncio.get_running_loop()
        started = loop.time()
        per_try = timedelta(seconds=max(1.0, min(30.0, interval.total_seconds())))
        if progress is not None:
            await progress(f"healthy; watching for {span(hold)}")
        reported = 0
        while (elapsed := loop.time() - started) < hold:
            await asyncio.sleep(min(interval.total_seconds(), hold - elapsed))
            result = await target.runner.check(check, target.binding, incident.service, per_try)
            elapsed = loop.time() - started
            if result.status != "ok":
                return Hold(result, elapsed)
            # One line a minute is enough to show the watch is alive.
            if progress is not None and int(elapsed // 60) > reported:
                reported = int(elapsed // 60)
                await progress(f"still healthy after {span(elapsed)} of {span(hold)}")
        return Hold(result, None)


def span(seconds: float) -> str:
    """`15m`, `90s`: how long, as the responder would say it."""
    if seconds >= 60 and seconds % 60 < 1:
        return f"{seconds // 60:.0f}m"
    if seconds >= 60:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds:.0f}s"
