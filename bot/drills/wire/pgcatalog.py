"""What the sandbox database answers: readiness checks and the bot's read-only diagnostics.

There is no database behind it. Each query it knows gets a fixed, plausible table: `SELECT 1`,
`SHOW server_version`, `SELECT version()`, and `pg_stat_activity` as the bot's connection and
long-query checks ask for it. Anything else is refused, as by a database that will not run it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

INT4, INT8, TEXT, FLOAT8 = 23, 20, 25, 701
SERVER_VERSION = "15.4"
PARAMETERS = {
    "server_version": SERVER_VERSION,
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "TimeZone": "UTC",
}
_VERSION = f"PostgreSQL {SERVER_VERSION} on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit"  # noqa: E501
# The app's connections as pg_stat_activity shows them: by state, then the oldest idle ones.
_BY_STATE = [("idle", 12), ("active", 3), ("idle in transaction", 1)]
_MAX_CONNECTIONS = 100
_OLDEST_IDLE = [(4121, "ecap", "ecap-api", 1830.5), (4177, "ecap", "ecap-api", 912.0)]


@dataclass(frozen=True)
class Table:
    """A query's answer: its columns (name, type oid), rows as text, and its parameter types."""

    columns: list[tuple[str, int]]
    rows: list[list[str | None]] = field(default_factory=list)
    params: tuple[int, ...] = ()

    @property
    def tag(self) -> str:
        return f"SELECT {len(self.rows)}"


def _one(name: str, oid: int, value: str) -> Table:
    return Table([(name, oid)], [[value]])


def _normal(query: str) -> str:
    return " ".join(query.lower().split()).rstrip(";").strip()


_SELECT_INT = re.compile(r"^select (-?\d{1,9})$")
_SHOW = re.compile(r"^show ([a-z_]+)$")


def answer(query: str, database: str) -> Table | None:
    """The table the sandbox answers `query` with, None when it refuses it."""
    sql = _normal(query)
    if match := _SELECT_INT.match(sql):
        return _one("?column?", INT4, match.group(1))
    if (match := _SHOW.match(sql)) and match.group(1) in PARAMETERS:
        return _one(match.group(1), TEXT, PARAMETERS[match.group(1)])
    if sql == "select current_database()":
        return _one("current_database", TEXT, database)
    if sql == "select version()":
        return _one("version", TEXT, _VERSION)
    if "from pg_stat_activity" in sql:
        return _activity(sql)
    return None


def _activity(sql: str) -> Table | None:
    """The bot's pg_stat_activity reads (bot/executors/postgres/reads.py), by what they ask."""
    if "group by 1" in sql:
        rows: list[list[str | None]] = [[s, str(n)] for s, n in _BY_STATE]
        return Table([("state", TEXT), ("n", INT4)], rows, (TEXT,))
    if "current_setting('max_connections')" in sql:
        total = sum(n for _, n in _BY_STATE)
        return Table([("total", INT4), ("max", INT4)], [[str(total), str(_MAX_CONNECTIONS)]])
    if "state = 'idle'" in sql:
        columns = [("pid", INT4), ("usename", TEXT), ("application_name", TEXT), ("idle", FLOAT8)]
        idle: list[list[str | None]] = [[str(p), u, a, str(s)] for p, u, a, s in _OLDEST_IDLE]
        return Table(columns, idle, (TEXT,))
    if "make_interval" in sql:
        # No query has run long: the list is empty.
        names = ("pid", "usename", "datname", "state", "query", "total", "running")
        types = (INT4, TEXT, TEXT, TEXT, TEXT, INT4, FLOAT8)
        return Table(list(zip(names, types, strict=True)), [], (FLOAT8, INT4))
    return None
