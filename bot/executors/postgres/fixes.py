"""The terminate-idle fix: preview lists exactly the connections apply would terminate."""

from __future__ import annotations

from typing import Any

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview
from bot.executors.postgres.connection import PgFailure, load_asyncpg, session, shown
from bot.executors.postgres.display import duration, table
from bot.executors.postgres.params import PgTerminateIdle

# One predicate for preview and apply, so what was approved is what gets terminated; never the
# bot's own connection, never a background worker.
_IDLE = """
backend_type = 'client backend' AND pid <> pg_backend_pid()
AND datname = $1 AND state = 'idle' AND state_change < now() - make_interval(secs => $2)
"""
_LIST = f"""
SELECT pid, usename, application_name, host(client_addr) AS client,
       extract(epoch FROM now() - state_change)::float8 AS idle
FROM pg_stat_activity WHERE {_IDLE} ORDER BY state_change
"""
# Re-checked per connection at apply time: one that became busy since the preview is spared.
_TERMINATE = f"""
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {_IDLE} AND pid = $3
"""
_HEADER = ("pid", "user", "application", "client", "idle for")


async def preview_terminate_idle(
    _client: None, action: PgTerminateIdle, target: ServiceBinding
) -> Preview:
    async with session(action.url, action.timeout_s) as db:
        database = await _database(db, action)
        rows = await db.fetch(_LIST, database, float(action.idle_for_s))
    if not rows:
        reason = f"no connections idle longer than {action.idle_for_s} s on db {database}"
        return Preview(summary=reason, error=reason)
    listing = table(_HEADER, [_row(r) for r in rows])
    return Preview(
        summary=(
            f"would terminate {len(rows)} connection(s) idle longer than {action.idle_for_s} s"
            f" on db {database} ({shown(action.url)})"
        ),
        before=listing,
        after=f"{len(rows)} connection(s) terminated; their clients reconnect as needed",
        diff="\n".join(
            f"- pid {r['pid']} ({r['usename']}, idle {duration(r['idle'])})" for r in rows
        ),
    )


async def apply_terminate_idle(
    _client: None, action: PgTerminateIdle, target: ServiceBinding
) -> CheckResult:
    asyncpg = load_asyncpg()
    async with session(action.url, action.timeout_s) as db:
        database = await _database(db, action)
        rows = await db.fetch(_LIST, database, float(action.idle_for_s))
        terminated: list[Any] = []
        refused: list[str] = []
        for row in rows:
            try:
                done = await db.fetchval(_TERMINATE, database, float(action.idle_for_s), row["pid"])
            except asyncpg.PostgresError as exc:
                # e.g. a superuser's connection: the others are still worth terminating.
                refused.append(f"pid {row['pid']}: {str(exc).splitlines()[0]}")
                continue
            if done:
                terminated.append(row)
    summary = f"terminated {len(terminated)} idle connection(s) on {database}"
    if refused:
        summary += f"; {len(refused)} refused"
    output = [summary]
    if terminated:
        output.append(table(_HEADER, [_row(r) for r in terminated]))
    output += refused
    return CheckResult(
        status="error" if refused and not terminated else "ok",
        summary=summary,
        output="\n".join(output),
    )


async def _database(db: Any, action: PgTerminateIdle) -> str:
    if action.database:
        return action.database
    name = await db.fetchval("SELECT current_database()")
    if not name:
        raise PgFailure("the URL names no database")
    return str(name)


def _row(row: Any) -> tuple[object, ...]:
    return (
        row["pid"],
        row["usename"],
        row["application_name"] or "-",
        row["client"] or "local",
        duration(row["idle"]),
    )
