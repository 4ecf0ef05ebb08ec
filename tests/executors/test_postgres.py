"""PostgresExecutor against a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from pydantic import ValidationError

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, ReadAction, WriteAction
from bot.executors.postgres import READS, WRITES, PostgresExecutor
from bot.executors.postgres.connection import MISSING_EXTRA
from bot.executors.postgres.params import (
    PgConnections,
    PgLongQueries,
    PgReady,
    PgReplication,
    PgTerminateIdle,
)
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import free_port

TARGET = ServiceBinding()
REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the session; skips when the binaries are missing."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def db_url(postgres: PostgresServer) -> str:
    """A database of its own for one test, so connection counts are exact."""
    return postgres.create_database(f"test_{next(_databases)}")


@pytest.fixture
async def clients(db_url: str) -> AsyncIterator[list[asyncpg.Connection]]:
    """Connections a test opens as the application would; closed at the end."""
    opened: list[asyncpg.Connection] = []
    try:
        yield opened
    finally:
        for connection in opened:
            try:
                await connection.close(timeout=5)
            except Exception:
                connection.terminate()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def findings(result: CheckResult) -> dict[str, object]:
    return {f.name: f.value for f in result.findings}


def shown(url: str) -> str:
    """host:port/db as the executor names a server."""
    return url.rpartition("@")[2]


async def check(action: type[ReadAction], url: str, **params: object) -> CheckResult:
    kind = action.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    read = action.model_validate({"type": kind, "url": url, **params})
    return await PostgresExecutor().check(read, TARGET)


def terminate_idle(url: str, **params: object) -> PgTerminateIdle:
    return PgTerminateIdle.model_validate({"type": "postgres.terminate_idle", "url": url, **params})


async def connect(url: str, into: list[asyncpg.Connection], count: int = 1) -> list[int]:
    """Open idle connections to url; returns their backend pids."""
    opened = [await asyncpg.connect(url, server_settings={"application_name": "app"})
              for _ in range(count)]  # fmt: skip
    into += opened
    return [c.get_server_pid() for c in opened]


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """The first non-None result of probe, polled; generous so a loaded box only waits longer."""
    deadline = time.monotonic() + 60
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.2)


async def live_pids(postgres: PostgresServer) -> set[int]:
    admin = await asyncpg.connect(postgres.admin_dsn)
    try:
        return {r["pid"] for r in await admin.fetch("SELECT pid FROM pg_stat_activity")}
    finally:
        await admin.close()


async def test_ready(postgres: PostgresServer) -> None:
    url = postgres.url()
    result = await check(PgReady, url)

    assert result.status == "ok"
    facts = findings(result)
    assert facts["postgres.ready"] is True
    assert isinstance(facts["postgres.latency_ms"], int)
    assert str(facts["postgres.version"]).split(".")[0].isdigit()
    assert result.summary.startswith(
        f"postgres {shown(url)}: accepting connections (PostgreSQL {facts['postgres.version']}) in "
    )
    assert {f.subject for f in result.findings} == {f"postgresql://{shown(url)}"}
    assert postgres.password not in result.summary + result.output + str(result.findings)


async def test_ready_shows_select_version(postgres: PostgresServer) -> None:
    # The runbook's `psql -c "SELECT version()"`: the whole build line, under the summary.
    result = await check(PgReady, postgres.url())
    build = result.output.splitlines()[-1]
    assert build.startswith(f"PostgreSQL {findings(result)['postgres.version']}")
    assert " on " in build


async def test_closed_port_is_not_ready() -> None:
    url = f"postgresql://app:pw-closed-1@127.0.0.1:{free_port()}/app"
    result = await check(PgReady, url)

    assert result.status == "problem"
    assert findings(result) == {"postgres.ready": False}
    assert result.summary == f"postgres {shown(url)}: not accepting connections: connection refused"
    assert "pw-closed-1" not in result.summary + result.output + str(result.findings)


async def test_silent_server_times_out(silent_port: int) -> None:
    url = f"postgresql://app@127.0.0.1:{silent_port}/app"
    result = await check(PgReady, url, timeout_s=0.3)

    assert result.status == "problem"
    assert result.summary.endswith(": not accepting connections: timed out after 0.3s")


async def test_unresolvable_host_is_not_ready() -> None:
    result = await check(PgReady, "postgresql://app@nonexistent.invalid/app", timeout_s=10)

    assert result.status == "problem"
    assert findings(result) == {"postgres.ready": False}
    assert "\n" not in result.summary


async def test_wrong_password_is_an_error_without_the_password(postgres: PostgresServer) -> None:
    url = postgres.url(password="wrong-pass-7")
    results = [
        await check(PgReady, url),
        await check(PgConnections, url),
        await PostgresExecutor().apply(terminate_idle(url), TARGET),
    ]
    preview = await PostgresExecutor().preview(terminate_idle(url), TARGET)

    for result in results:
        assert result.status == "error"
        assert result.summary == f"postgres {shown(url)}: authentication failed"
        assert "wrong-pass-7" not in result.summary + result.output + str(result.findings)
    assert preview.error == f"postgres {shown(url)}: authentication failed"
    assert "wrong-pass-7" not in preview.model_dump_json()


async def test_unknown_database(postgres: PostgresServer) -> None:
    result = await check(PgConnections, postgres.url("no_such_db"))

    assert result.status == "error"
    assert result.summary.endswith(': database "no_such_db" does not exist')
    assert postgres.password not in result.summary


async def test_connection_counts_by_state(db_url: str, clients: list[asyncpg.Connection]) -> None:
    idle_pids = await connect(db_url, clients, 3)
    in_transaction = (await connect(db_url, clients))[0]
    await clients[-1].execute("BEGIN")
    await connect(db_url, clients)
    sleeper = asyncio.create_task(clients[-1].execute("SELECT pg_sleep(60)"))
    try:

        async def counted() -> CheckResult | None:
            result = await check(PgConnections, db_url)
            return result if findings(result)["postgres.connections_active"] == 1 else None

        result = await eventually(counted, "the sleeping query shows as active")
    finally:
        sleeper.cancel()

    assert result.status == "ok"
    facts = findings(result)
    assert facts["postgres.connections"] == 5
    assert facts["postgres.connections_idle"] == 3
    assert facts["postgres.connections_idle_in_transaction"] == 1
    assert facts["postgres.max_connections"] == 50
    assert isinstance(facts["postgres.connections_percent"], float)
    assert facts["postgres.connections_percent"] >= 10.0
    database = db_url.rpartition("/")[2]
    assert f"5 connection(s) on {database} (1 active, 3 idle, 1 idle in transaction)" in (
        result.summary
    )
    assert "idle in transaction  1" in result.output
    oldest = result.output.split("oldest idle:")[1]
    assert all(str(pid) in oldest for pid in idle_pids)
    assert str(in_transaction) not in oldest


async def test_connections_near_max_are_a_problem(
    db_url: str, clients: list[asyncpg.Connection]
) -> None:
    # 45 of max_connections 50 is 90% (connections of earlier tests may still be exiting).
    await connect(db_url, clients, 45)
    result = await check(PgConnections, db_url)

    assert result.status == "problem"
    assert findings(result)["postgres.connections"] == 45
    percent = findings(result)["postgres.connections_percent"]
    assert isinstance(percent, float)
    assert percent >= 90.0
    assert f"server at {percent}% of max_connections 50" in result.summary


async def test_connections_of_another_database(
    postgres: PostgresServer, db_url: str, clients: list[asyncpg.Connection]
) -> None:
    await connect(db_url, clients, 2)
    result = await check(PgConnections, postgres.url(), database=db_url.rpartition("/")[2])

    assert findings(result)["postgres.connections"] == 2


async def test_long_running_query_is_found(db_url: str, clients: list[asyncpg.Connection]) -> None:
    pid = (await connect(db_url, clients))[0]
    sleeper = asyncio.create_task(
        clients[0].execute("SELECT pg_sleep(60) /* api_token=tok-abc123-secret */")
    )
    try:

        async def found() -> CheckResult | None:
            result = await check(PgLongQueries, db_url, older_than_s=1)
            return result if result.status == "problem" else None

        result = await eventually(found, "the sleeping query is older than 1 s")
        quiet = await check(PgLongQueries, db_url, older_than_s=3600)
    finally:
        sleeper.cancel()

    assert findings(result) == {"postgres.long_queries": 1}
    assert f"(pid {pid})" in result.summary
    row = next(line for line in result.output.splitlines() if line.startswith(str(pid)))
    assert "active" in row
    assert "pg_sleep(60)" in row
    assert "tok-abc123-secret" not in result.summary + result.output
    assert quiet.status == "ok"
    assert findings(quiet) == {"postgres.long_queries": 0}


async def test_long_query_text_is_truncated(db_url: str, clients: list[asyncpg.Connection]) -> None:
    await connect(db_url, clients)
    padding = "x" * 500
    sleeper = asyncio.create_task(clients[0].execute(f"SELECT pg_sleep(60), '{padding}'"))
    try:

        async def found() -> CheckResult | None:
            result = await check(PgLongQueries, db_url, older_than_s=1)
            return result if result.status == "problem" else None

        result = await eventually(found, "the padded query is older than 1 s")
    finally:
        sleeper.cancel()

    assert "x" * 150 in result.output
    assert padding not in result.output
    assert "..." in result.output


async def test_terminate_idle_previews_then_terminates_exactly_those(
    postgres: PostgresServer, db_url: str, clients: list[asyncpg.Connection]
) -> None:
    idle = await connect(db_url, clients, 3)
    in_transaction = (await connect(db_url, clients))[0]
    await clients[-1].execute("BEGIN")
    active = (await connect(db_url, clients))[0]
    sleeper = asyncio.create_task(clients[-1].execute("SELECT pg_sleep(60)"))
    # The test's own connection, idle too but on another database.
    observer = await asyncpg.connect(postgres.url())
    clients.append(observer)
    fix = terminate_idle(db_url, idle_for_s=1)
    database = db_url.rpartition("/")[2]
    try:

        async def all_idle_long_enough() -> Preview | None:
            preview = await PostgresExecutor().preview(fix, TARGET)
            return (
                preview
                if preview.error is None and preview.summary.startswith("would terminate 3 ")
                else None
            )

        preview = await eventually(all_idle_long_enough, "3 connections idle for 1 s")
        assert f"on db {database}" in preview.summary
        listed = {int(line.split()[0]) for line in preview.before.splitlines()[1:]}
        assert listed == set(idle)
        # Still there after the preview; looked up from outside, as using them would make them busy.
        assert set(idle) <= await live_pids(postgres)

        result = await PostgresExecutor().apply(fix, TARGET)
        assert result.status == "ok"
        assert result.summary == f"terminated 3 idle connection(s) on {database}"

        async def gone() -> set[int] | None:
            pids = await live_pids(postgres)
            return pids if not pids & set(idle) else None

        remaining = await eventually(gone, "the terminated backends exit")
        assert {in_transaction, active, observer.get_server_pid()} <= remaining
        assert not sleeper.done()
        assert await observer.fetchval("SELECT 1") == 1
    finally:
        sleeper.cancel()


async def test_terminate_idle_reports_connections_it_may_not_terminate(
    postgres: PostgresServer, db_url: str, clients: list[asyncpg.Connection]
) -> None:
    ordinary = (await connect(db_url, clients))[0]
    database = db_url.rpartition("/")[2]
    superuser = await asyncpg.connect(postgres.admin_dsn.replace("/postgres?", f"/{database}?"))
    clients.append(superuser)
    fix = terminate_idle(db_url, idle_for_s=1)

    async def both_idle() -> Preview | None:
        preview = await PostgresExecutor().preview(fix, TARGET)
        return preview if preview.summary.startswith("would terminate 2 ") else None

    await eventually(both_idle, "2 connections idle for 1 s")
    result = await PostgresExecutor().apply(fix, TARGET)

    assert result.status == "ok"
    assert result.summary == f"terminated 1 idle connection(s) on {database}; 1 refused"
    refused = f"pid {superuser.get_server_pid()}: "
    refusal = [line for line in result.output.splitlines() if line.startswith(refused)]
    assert len(refusal) == 1
    assert "superuser" in refusal[0].lower()
    assert superuser.get_server_pid() in await live_pids(postgres)

    async def gone() -> bool | None:
        return True if ordinary not in await live_pids(postgres) else None

    await eventually(gone, "the ordinary connection exits")


async def test_terminate_idle_with_nothing_idle_cannot_be_approved(db_url: str) -> None:
    preview = await PostgresExecutor().preview(terminate_idle(db_url), TARGET)

    database = db_url.rpartition("/")[2]
    assert preview.error == f"no connections idle longer than 300 s on db {database}"


async def test_terminate_idle_apply_with_nothing_idle_terminates_nothing(
    postgres: PostgresServer, db_url: str, clients: list[asyncpg.Connection]
) -> None:
    pid = (await connect(db_url, clients))[0]
    result = await PostgresExecutor().apply(terminate_idle(db_url, idle_for_s=3600), TARGET)

    assert result.status == "ok"
    assert result.summary == f"terminated 0 idle connection(s) on {db_url.rpartition('/')[2]}"
    assert pid in await live_pids(postgres)


async def test_standalone_server_has_no_replicas(postgres: PostgresServer) -> None:
    result = await check(PgReplication, postgres.url())

    assert result.status == "ok"
    assert findings(result) == {"postgres.replicas": 0, "postgres.in_recovery": False}
    assert result.summary == f"postgres {shown(postgres.url())} (primary): 0 replica(s)"


_WITHOUT_ASYNCPG = """
import asyncio, json, sys
sys.modules["asyncpg"] = None  # what `import asyncpg` meets when the extra is not installed
from bot.config import ServiceBinding
from bot.executors.postgres import PostgresExecutor
from bot.executors.postgres.params import PgReady, PgTerminateIdle

async def main():
    url = "postgresql://app:pw@127.0.0.1:5432/app"
    executor, target = PostgresExecutor(), ServiceBinding()
    fix = PgTerminateIdle(type="postgres.terminate_idle", url=url)
    ready = await executor.check(PgReady(type="postgres.ready", url=url), target)
    preview = await executor.preview(fix, target)
    applied = await executor.apply(fix, target)
    print(json.dumps([ready.status, ready.summary, preview.error, applied.status, applied.summary]))

asyncio.run(main())
"""


def test_without_asyncpg_every_action_says_what_to_install() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_ASYNCPG],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    missing = MISSING_EXTRA
    assert json.loads(done.stdout) == ["error", missing, missing, "error", missing]


async def test_other_actions_are_refused() -> None:
    executor = PostgresExecutor()
    assert (await executor.check(ReadAction(type="redis.ping"), TARGET)).status == "error"
    assert (await executor.preview(WriteAction(type="postgres.drop"), TARGET)).error is not None
    assert (await executor.apply(WriteAction(type="postgres.drop"), TARGET)).status == "error"


def test_exports() -> None:
    assert set(READS) == {PgReady, PgConnections, PgLongQueries, PgReplication}
    assert set(WRITES) == {PgTerminateIdle}


@pytest.mark.parametrize(
    "params",
    [
        {"type": "postgres.ready", "url": "mysql://db:3306/app"},
        {"type": "postgres.ready", "url": "postgresql://d b/app"},
        {"type": "postgres.ready", "url": "postgresql://db/app", "timeout_s": 0},
        {"type": "postgres.terminate_idle", "url": "postgresql://db/app", "idle_for_s": 0},
        {"type": "postgres.terminate_idle", "url": "postgresql://db/app", "database": "x; drop"},
    ],
)
def test_bad_params_are_rejected(params: dict[str, Any]) -> None:
    model: type[ReadAction] | type[WriteAction] = (
        PgReady if params["type"] == "postgres.ready" else PgTerminateIdle
    )
    with pytest.raises(ValidationError):
        model.model_validate(params)
