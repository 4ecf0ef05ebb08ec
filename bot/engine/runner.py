"""Runs one action with a deadline; whatever happens, the caller gets a one-line result."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.config import ServiceBinding
from bot.engine.binding import resolve_action
from bot.errors import BotError
from bot.executors.base import CheckResult, Preview, ReadAction, WriteAction
from bot.executors.registry import ExecutorRegistry
from bot.redact import redact

log = logging.getLogger(__name__)


class ActionRunner:
    def __init__(self, executors: ExecutorRegistry) -> None:
        self.executors = executors

    async def check(
        self, action: ReadAction, binding: ServiceBinding, service: str, timeout: timedelta
    ) -> CheckResult:
        try:
            concrete = resolve_action(action, binding, service)
            executor = self.executors.for_action(concrete)
            result = await asyncio.wait_for(
                executor.check(concrete, binding), timeout.total_seconds()
            )
        except TimeoutError:
            return CheckResult(
                status="error", summary=f"timed out after {int(timeout.total_seconds())}s"
            )
        except BotError as exc:
            return CheckResult(status="error", summary=str(exc))
        except Exception as exc:  # an executor bug must not take the incident down with it
            log.error("check %s failed: %s", action.type, _one_line(exc))
            return CheckResult(status="error", summary=_one_line(exc))
        return _sanitized(result)

    async def preview(
        self, action: WriteAction, binding: ServiceBinding, service: str, timeout: timedelta
    ) -> Preview:
        try:
            concrete = resolve_action(action, binding, service)
            executor = self.executors.for_action(concrete)
            preview = await asyncio.wait_for(
                executor.preview(concrete, binding), timeout.total_seconds()
            )
        except TimeoutError:
            return Preview(summary=action.type, error="dry run timed out")
        except BotError as exc:
            return Preview(summary=action.type, error=str(exc))
        except Exception as exc:
            log.error("preview %s failed: %s", action.type, _one_line(exc))
            return Preview(summary=action.type, error=_one_line(exc))
        return preview.model_copy(
            update={
                "summary": redact(preview.summary),
                "before": redact(preview.before),
                "after": redact(preview.after),
                "diff": redact(preview.diff),
                "error": redact(preview.error) if preview.error else None,
            }
        )

    async def apply(
        self, action: WriteAction, binding: ServiceBinding, service: str, timeout: timedelta
    ) -> CheckResult:
        try:
            concrete = resolve_action(action, binding, service)
            executor = self.executors.for_action(concrete)
            # Shielded: once a change is sent, a cancelled caller must not leave it half-recorded.
            result = await asyncio.wait_for(
                asyncio.shield(executor.apply(concrete, binding)), timeout.total_seconds()
            )
        except TimeoutError:
            return CheckResult(
                status="error",
                summary=f"no answer within {int(timeout.total_seconds())}s; check the result",
            )
        except BotError as exc:
            return CheckResult(status="error", summary=str(exc))
        except Exception as exc:
            log.error("fix %s failed: %s", action.type, _one_line(exc))
            return CheckResult(status="error", summary=_one_line(exc))
        return _sanitized(result)


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
