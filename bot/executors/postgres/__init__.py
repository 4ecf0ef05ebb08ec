"""Postgres checks and the terminate-idle fix, through asyncpg (the `postgres` extra)."""

from __future__ import annotations

from bot.executors.postgres.executor import PostgresExecutor
from bot.executors.postgres.params import READS, WRITES

__all__ = ["READS", "WRITES", "PostgresExecutor"]
