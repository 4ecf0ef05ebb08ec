"""Postgres checks and the terminate-idle fix, through asyncpg (the `postgres` extra)."""

from __future__ import annotations

from bot.executors.base import Backend
from bot.executors.postgres.executor import PostgresExecutor
from bot.executors.postgres.params import READS, WRITES

BACKEND = Backend("postgres", READS, WRITES, lambda clients: PostgresExecutor())

__all__ = ["BACKEND", "READS", "WRITES", "PostgresExecutor"]
