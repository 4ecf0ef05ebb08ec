"""Runs one action with a deadline; whatever happens, the caller gets a one-line result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from bot.config import ServiceBinding
from bot.engine.binding import resolve_action
from bot.errors import BotError
from bot.executors.base import CheckResult, Executor, Preview, ReadAction, WriteAction
from bot.executors.registry import ExecutorRegistry
from bot.redact import redact

log = logging.getLogger(__name__)

ActionT = TypeVar("ActionT", ReadAction, WriteAction)
ResultT = TypeVar("ResultT")


class ActionRunner:
    def __init__(self, executors: ExecutorRegistry) -> None:
        self.executors = executors

    async def check(
        self, action: ReadAction, binding: ServiceBinding, service: str, timeout: timedelta
    ) -> CheckResult:
        outcome = await self._run(
            action, binding, service, timeout, lambda e, a: e.check(a, binding)
        )
        if isinstance(outcome, str):
            return CheckResult(status="error", summary=outcome)
        return _sanitized(outcome)

    def unrunnable(self, action: ReadAction, binding: ServiceBinding, service: str) -> str | None:
        """Why no attempt of this check can run (a setting the binding lacks), else None."""
        try:
            self.executors.for_action(resolve_action(action, binding, service))
        except BotError as exc:
            return str(exc)
        return None

    async def preview(
        self, action: WriteAction, binding: ServiceBinding, service: str, timeout: timedelta
    ) -> Preview:
        outcome = await self._run(
            action, binding, service, timeout, lambda e, a: e.preview(a, binding)
        )
        if isinstance(outcome, str):
            return Preview(summary=action.type, error=outcome)
        return outcome.model_copy(
            update={
                "summary": redact(outcome.summary),
                "before": redact(outcome.before),
                "after": redact(outcome.after),
                "diff": redact(outcome.diff),
                "error": redact(outcome.error) if outcome.error else None,
            }
        )

    async def apply(
        self, action: WriteAction, binding: ServiceBinding, service: str, timeout: timedelta
    ) -> CheckResult:
        outcome = await self._run(
            action,
            binding,
            service,
            timeout,
            lambda e, a: e.apply(a, binding),
            # Once a change is sent, a cancelled caller must not leave it half-recorded.
            shield=True,
            late=f"no answer within {timeout.total_seconds():.0f}s; check whether it applied",
        )
        if isinstance(outcome, str):
            return CheckResult(status="error", summary=outcome)
        return _sanitized(outcome)

    async def _run(
        self,
        action: ActionT,
        binding: ServiceBinding,
        service: str,
        timeout: timedelta,
        call: Callable[[Executor, ActionT], Awaitable[ResultT]],
        *,
        shield: bool = False,
        late: str | None = None,
    ) -> ResultT | str:
        """The executor's answer, or the one-line reason there is none."""
        try:
            concrete = resolve_action(action, binding, service)
            work = call(self.executors.for_action(concrete), concrete)
            pending = asyncio.shield(work) if shield else work
            return await asyncio.wait_for(pending, timeout.total_seconds())
        except TimeoutError:
            return late or f"timed out after {timeout.total_seconds():.0f}s"
        except BotError as exc:
            return str(exc)
        except Exception as exc:  # an executor bug must not take the incident down with it
            log.error("%s failed: %s", action.type, _one_line(exc))
            return _one_line(exc)


def _sanitized(result: CheckResult) -> CheckResult:
    summary = redact(result.summary.splitlines()[0] if result.summary else result.status)
    findings = [
        f.model_copy(update={"value": redact(f.value)}) if isinstance(f.value, str) else f
        for f in result.findings
    ]
    return result.model_copy(
        update={"summary": summary, "output": redact(result.output), "findings": findings}
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
