"""PostgresExecutor: the Executor protocol over asyncpg, one fresh connection per action."""

from __future__ import annotations

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, ReadAction, WriteAction
from bot.executors.postgres.connection import MISSING_EXTRA, PgFailure, shown
from bot.executors.postgres.fixes import apply_terminate_idle, preview_terminate_idle
from bot.executors.postgres.params import PgTerminateIdle
from bot.executors.postgres.reads import reader_for
from bot.redact import redact


class PostgresExecutor:
    """Runs Postgres checks and fixes; every failure becomes a one-line error result."""

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult:
        reader = reader_for(action)
        if reader is None:
            return CheckResult(status="error", summary=f"not a Postgres check: {action.type}")
        try:
            result = await reader(action)
        except PgFailure as exc:
            return CheckResult(status="error", summary=_failed(action, exc))
        return result.model_copy(
            update={"summary": redact(result.summary), "output": redact(result.output)}
        )

    async def preview(self, action: WriteAction, target: ServiceBinding) -> Preview:
        if not isinstance(action, PgTerminateIdle):
            reason = f"not a Postgres fix: {action.type}"
            return Preview(summary=reason, error=reason)
        try:
            preview = await preview_terminate_idle(action)
        except PgFailure as exc:
            reason = _failed(action, exc)
            return Preview(summary=f"cannot preview {action.type}: {reason}", error=reason)
        return preview.model_copy(
            update={
                "summary": redact(preview.summary),
                "before": redact(preview.before),
                "diff": redact(preview.diff),
            }
        )

    async def apply(self, action: WriteAction, target: ServiceBinding) -> CheckResult:
        if not isinstance(action, PgTerminateIdle):
            return CheckResult(status="error", summary=f"not a Postgres fix: {action.type}")
        try:
            result = await apply_terminate_idle(action)
        except PgFailure as exc:
            return CheckResult(status="error", summary=_failed(action, exc))
        return result.model_copy(
            update={"summary": redact(result.summary), "output": redact(result.output)}
        )


def _failed(action: ReadAction | WriteAction, exc: PgFailure) -> str:
    if str(exc) == MISSING_EXTRA:
        return MISSING_EXTRA
    url = getattr(action, "url", "")
    return redact(f"postgres {shown(url)}: {exc}")
