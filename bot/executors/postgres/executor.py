"""PostgresExecutor: the Postgres checks and the terminate-idle fix as tables, over asyncpg."""

from __future__ import annotations

from bot.executors.base import ReadAction, WriteAction
from bot.executors.postgres.connection import MISSING_EXTRA, PgFailure, shown
from bot.executors.postgres.fixes import apply_terminate_idle, preview_terminate_idle
from bot.executors.postgres.reads import READERS
from bot.executors.tabled import Fix, TabledExecutor

FIXES = {"postgres.terminate_idle": Fix(preview_terminate_idle, apply_terminate_idle)}


def _failed(action: ReadAction | WriteAction, exc: Exception) -> str:
    if str(exc) == MISSING_EXTRA:
        return MISSING_EXTRA
    return f"postgres {shown(getattr(action, 'url', ''))}: {exc}"


class PostgresExecutor(TabledExecutor[None]):
    """Runs Postgres checks and fixes, one fresh connection per action."""

    def __init__(self) -> None:
        super().__init__("Postgres", None, READERS, FIXES, failure=PgFailure, reason=_failed)
