"""Params of the Postgres actions: `pg_isready`, `pg_stat_activity` and friends as queries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.executors.base import ReadAction, WriteAction
from bot.executors.params import PostgresUrl

# A database as `datname` holds it; unset: the database named in the URL.
_DATABASE = r"^[A-Za-z0-9_-]{1,63}$"


class PgReady(ReadAction):
    """`pg_isready` / `psql -c 'SELECT 1'`: connect, run SELECT 1 and SELECT version()."""

    type: Literal["postgres.ready"]
    url: PostgresUrl
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class PgConnections(ReadAction):
    """Connections from `pg_stat_activity` by state, against `max_connections`."""

    type: Literal["postgres.connections"]
    url: PostgresUrl
    database: str | None = Field(default=None, pattern=_DATABASE)
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class PgLongQueries(ReadAction):
    """Active queries running longer than a threshold, oldest first, their text redacted."""

    type: Literal["postgres.long_queries"]
    url: PostgresUrl
    older_than_s: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    limit: int = Field(default=20, ge=1, le=200)
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class PgReplication(ReadAction):
    """`SELECT * FROM pg_stat_replication`: each replica's state and lag."""

    type: Literal["postgres.replication"]
    url: PostgresUrl
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class PgTerminateIdle(WriteAction):
    """`pg_terminate_backend` for connections idle longer than a threshold (never our own)."""

    type: Literal["postgres.terminate_idle"]
    url: PostgresUrl
    database: str | None = Field(default=None, pattern=_DATABASE)
    idle_for_s: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    timeout_s: float = Field(default=10.0, gt=0, le=60)


READS = (PgReady, PgConnections, PgLongQueries, PgReplication)
WRITES = (PgTerminateIdle,)
