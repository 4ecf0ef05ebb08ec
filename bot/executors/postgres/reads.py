"""Postgres checks: readiness, connections by state, long-running queries, replication."""

from __future__ import annotations

import time

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import elapsed_ms, reached, unreachable
from bot.executors.params import url_for_display
from bot.executors.postgres.connection import PgFailure, session, shown
from bot.executors.postgres.display import duration, query_text, table
from bot.executors.postgres.params import PgConnections, PgLongQueries, PgReady, PgReplication
from bot.executors.tabled import Read

# At this share of max_connections new clients are about to be refused.
_CONNECTIONS_PROBLEM_PERCENT = 90.0
_OLDEST_IDLE_SHOWN = 5
# The bot's own connection is left out of every count: it would not be there without the check.
_CLIENTS = "backend_type = 'client backend' AND pid <> pg_backend_pid()"

_BY_STATE = f"""
SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n
FROM pg_stat_activity WHERE {_CLIENTS} AND datname = $1
GROUP BY 1 ORDER BY 2 DESC, 1
"""
_SERVER_TOTAL = f"""
SELECT count(*)::int AS total, current_setting('max_connections')::int AS max
FROM pg_stat_activity WHERE {_CLIENTS}
"""
_OLDEST_IDLE = f"""
SELECT pid, usename, application_name, extract(epoch FROM now() - state_change)::float8 AS idle
FROM pg_stat_activity WHERE {_CLIENTS} AND datname = $1 AND state = 'idle'
ORDER BY state_change LIMIT {_OLDEST_IDLE_SHOWN}
"""
_LONG_QUERIES = f"""
SELECT pid, usename, datname, state, query, count(*) OVER ()::int AS total,
       extract(epoch FROM now() - query_start)::float8 AS running
FROM pg_stat_activity
WHERE {_CLIENTS} AND state = 'active' AND query_start < now() - make_interval(secs => $1)
ORDER BY query_start LIMIT $2
"""
# A standby has no current WAL position to measure its own replicas' lag against.
_REPLICAS = """
SELECT application_name, host(client_addr) AS client, state, sync_state,
       extract(epoch FROM replay_lag)::float8 AS replay_lag,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 END AS lag_bytes
FROM pg_stat_replication ORDER BY application_name, client_addr
"""


async def ready(_client: None, action: PgReady, target: ServiceBinding) -> CheckResult:
    where = url_for_display(action.url)
    started = time.perf_counter()
    try:
        async with session(action.url, action.timeout_s) as db:
            await db.fetchval("SELECT 1")
            version = str(await db.fetchval("SHOW server_version")).split()[0]
            build = str(await db.fetchval("SELECT version()"))
    except PgFailure as exc:
        if not exc.unreachable:
            raise
        # For readiness an unreachable server is the answer, not a failure to check.
        shown_url = f"postgres {shown(action.url)}"
        return unreachable(shown_url, f"not accepting connections: {exc}", "postgres.ready", where)
    latency_ms = elapsed_ms(started)
    result = reached(
        f"postgres {shown(action.url)}: accepting connections (PostgreSQL {version})"
        f" in {latency_ms} ms",
        [
            Finding(name="postgres.ready", value=True, subject=where),
            Finding(name="postgres.latency_ms", value=latency_ms, subject=where),
            Finding(name="postgres.version", value=version, subject=where),
        ],
    )
    # `SELECT version()` as the runbook asks it: the server's whole build line.
    return result.model_copy(update={"output": f"{result.output}\n{build}"})


async def connections(_client: None, action: PgConnections, target: ServiceBinding) -> CheckResult:
    where = url_for_display(action.url)
    async with session(action.url, action.timeout_s) as db:
        database = action.database or str(await db.fetchval("SELECT current_database()"))
        by_state = {str(r["state"]): int(r["n"]) for r in await db.fetch(_BY_STATE, database)}
        server = await db.fetchrow(_SERVER_TOTAL)
        oldest = await db.fetch(_OLDEST_IDLE, database)
    total = sum(by_state.values())
    maximum = int(server["max"])
    percent = round(int(server["total"]) * 100 / maximum, 1) if maximum else 0.0
    counts = {
        "postgres.connections": total,
        "postgres.connections_active": by_state.get("active", 0),
        "postgres.connections_idle": by_state.get("idle", 0),
        "postgres.connections_idle_in_transaction": by_state.get("idle in transaction", 0)
        + by_state.get("idle in transaction (aborted)", 0),
        "postgres.max_connections": maximum,
    }
    findings = [Finding(name=n, value=v, subject=where) for n, v in counts.items()]
    findings.append(Finding(name="postgres.connections_percent", value=percent, subject=where))
    output = [
        f"database {database}: {total} connection(s), not counting this check's own",
        table(("state", "connections"), sorted(by_state.items())),
        "",
        f"server: {server['total']} of max_connections {maximum} ({percent}%)",
    ]
    if oldest:
        rows = [
            (r["pid"], r["usename"], r["application_name"] or "-", duration(r["idle"]))
            for r in oldest
        ]
        output += ["", "oldest idle:", table(("pid", "user", "application", "idle for"), rows)]
    idle_tx = counts["postgres.connections_idle_in_transaction"]
    return CheckResult(
        status="problem" if percent >= _CONNECTIONS_PROBLEM_PERCENT else "ok",
        summary=(
            f"postgres {shown(action.url)}: {total} connection(s) on {database}"
            f" ({counts['postgres.connections_active']} active,"
            f" {counts['postgres.connections_idle']} idle, {idle_tx} idle in transaction);"
            f" server at {percent}% of max_connections {maximum}"
        ),
        output="\n".join(output),
        findings=findings,
    )


async def long_queries(_client: None, action: PgLongQueries, target: ServiceBinding) -> CheckResult:
    where = url_for_display(action.url)
    async with session(action.url, action.timeout_s) as db:
        rows = await db.fetch(_LONG_QUERIES, float(action.older_than_s), action.limit)
    total = int(rows[0]["total"]) if rows else 0
    finding = Finding(name="postgres.long_queries", value=total, subject=where)
    threshold = f"longer than {duration(action.older_than_s)}"
    if not rows:
        summary = f"postgres {shown(action.url)}: no active query running {threshold}"
        return CheckResult(status="ok", summary=summary, output=summary, findings=[finding])
    shown_rows = [
        (
            r["pid"],
            duration(r["running"]),
            r["state"],
            r["usename"],
            r["datname"],
            query_text(r["query"]),
        )
        for r in rows
    ]
    output = table(("pid", "running", "state", "user", "database", "query"), shown_rows)
    if total > len(rows):
        output += f"\n... and {total - len(rows)} more"
    return CheckResult(
        status="problem",
        summary=(
            f"postgres {shown(action.url)}: {total} active quer{'y' if total == 1 else 'ies'}"
            f" running {threshold}, the oldest for {duration(rows[0]['running'])}"
            f" (pid {rows[0]['pid']})"
        ),
        output=output,
        findings=[finding],
    )


async def replication(_client: None, action: PgReplication, target: ServiceBinding) -> CheckResult:
    where = url_for_display(action.url)
    async with session(action.url, action.timeout_s) as db:
        standby = bool(await db.fetchval("SELECT pg_is_in_recovery()"))
        rows = await db.fetch(_REPLICAS)
    role = "standby" if standby else "primary"
    findings = [
        Finding(name="postgres.replicas", value=len(rows), subject=where),
        Finding(name="postgres.in_recovery", value=standby, subject=where),
    ]
    lagging = [r for r in rows if r["state"] != "streaming"]
    summary = f"postgres {shown(action.url)} ({role}): {len(rows)} replica(s)"
    if lagging:
        summary += f", {len(lagging)} not streaming"
    if not rows:
        return CheckResult(status="ok", summary=summary, output=summary, findings=findings)
    table_rows = [
        (
            r["application_name"] or "-",
            r["client"] or "local",
            r["state"],
            r["sync_state"],
            _lag(r["replay_lag"], r["lag_bytes"]),
        )
        for r in rows
    ]
    return CheckResult(
        status="problem" if lagging else "ok",
        summary=summary,
        output=table(("replica", "client", "state", "sync", "lag"), table_rows),
        findings=findings,
    )


def _lag(seconds: float | None, lag_bytes: float | None) -> str:
    parts = []
    if seconds is not None:
        parts.append(duration(seconds) if seconds >= 1 else f"{seconds * 1000:.0f} ms")
    if lag_bytes is not None:
        parts.append(f"{lag_bytes / 1024 / 1024:.1f} MiB behind")
    return ", ".join(parts) or "-"


READERS: dict[str, Read[None]] = {
    "postgres.ready": ready,
    "postgres.connections": connections,
    "postgres.long_queries": long_queries,
    "postgres.replication": replication,
}
