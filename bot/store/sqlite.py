"""Embedded store: one SQLite file, safe to share between processes on one host."""

from __future__ import annotations

import asyncio
import builtins
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from bot.errors import ConflictError, NotFound, StoreError
from bot.redact import redact
from bot.store.base import Record

T = TypeVar("T")

# Long enough to ride out another process's write transaction on a busy box.
_BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_status ON records (status, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL);
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at);
"""


class SqliteStore:
    """Store in a SQLite file; calls run on one worker thread so the event loop never blocks."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def next_number(self) -> int:
        return await self._run(self._next_number)

    async def insert(self, record: Record) -> None:
        await self._run(lambda: self._insert(record))

    async def load(self, id: str) -> Record | None:
        return await self._run(lambda: self._load(id))

    async def replace(self, record: Record) -> Record:
        return await self._run(lambda: self._replace(record))

    async def list(self, status: str | None = None) -> list[Record]:
        return await self._run(lambda: self._list(status))

    async def claim(self, key: str, owner: str, ttl_s: float | None = None) -> bool:
        return await self._run(lambda: self._claim(key, owner, ttl_s))

    async def renew(self, key: str, owner: str, ttl_s: float) -> bool:
        return await self._run(lambda: self._renew(key, owner, ttl_s))

    async def release(self, key: str, owner: str) -> None:
        await self._run(lambda: self._release(key, owner))

    async def ping(self) -> None:
        await self._run(lambda: self._connection().execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown(wait=True)

    async def _run(self, call: Callable[[], T]) -> T:
        if self._closed:
            raise StoreError("sqlite store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._guarded, call)

    def _guarded(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (sqlite3.Error, OSError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise StoreError(redact(f"sqlite store {self.path}: {detail}")) from None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            try:
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                _enable_wal(conn)
                # FULL makes each commit durable before the call returns, even in WAL mode.
                conn.execute("PRAGMA synchronous = FULL")
                with _transaction(conn):
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _next_number(self) -> int:
        conn = self._connection()
        with _transaction(conn):
            row = conn.execute(
                "INSERT INTO counters (name, value) VALUES ('records', 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
            ).fetchone()
        return int(row[0])

    def _insert(self, record: Record) -> None:
        conn = self._connection()
        try:
            with _transaction(conn):
                conn.execute(
                    "INSERT INTO records (id, status, version, body) VALUES (?, ?, ?, ?)",
                    (record.id, record.status, record.version, record.body),
                )
        except sqlite3.IntegrityError:
            raise ConflictError(f"{record.id} already exists") from None

    def _load(self, id: str) -> Record | None:
        row = (
            self._connection()
            .execute("SELECT id, status, version, body FROM records WHERE id = ?", (id,))
            .fetchone()
        )
        return None if row is None else Record(*row)

    def _replace(self, record: Record) -> Record:
        conn = self._connection()
        stored = Record(record.id, record.status, record.version + 1, record.body)
        with _transaction(conn):
            updated = conn.execute(
                "UPDATE records SET status = ?, version = ?, body = ? WHERE id = ? AND version = ?",
                (stored.status, stored.version, stored.body, record.id, record.version),
            ).rowcount
            if updated == 0:
                exists = conn.execute("SELECT 1 FROM records WHERE id = ?", (record.id,)).fetchone()
                if exists is None:
                    raise NotFound(f"{record.id} does not exist")
                raise ConflictError(f"{record.id} was changed by someone else; reload and retry")
        return stored

    def _list(self, status: str | None) -> builtins.list[Record]:
        conn = self._connection()
        if status is None:
            rows = conn.execute("SELECT id, status, version, body FROM records ORDER BY id")
        else:
            rows = conn.execute(
                "SELECT id, status, version, body FROM records WHERE status = ? ORDER BY id",
                (status,),
            )
        return [Record(*row) for row in rows.fetchall()]

    def _claim(self, key: str, owner: str, ttl_s: float | None) -> bool:
        conn = self._connection()
        # Wall-clock time, because the expiry is compared by other processes.
        now = time.time()
        expires_at = None if ttl_s is None else now + ttl_s
        with _transaction(conn):
            # Every expired claim, not just this key's: replay-guard claims are one per request.
            conn.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
            inserted = conn.execute(
                "INSERT OR IGNORE INTO claims (key, owner, expires_at) VALUES (?, ?, ?)",
                (key, owner, expires_at),
            ).rowcount
        return inserted == 1

    def _renew(self, key: str, owner: str, ttl_s: float) -> bool:
        conn = self._connection()
        now = time.time()
        with _transaction(conn):
            updated = conn.execute(
                "UPDATE claims SET expires_at = ? WHERE key = ? AND owner = ? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (now + ttl_s, key, owner, now),
            ).rowcount
        return updated == 1

    def _release(self, key: str, owner: str) -> None:
        conn = self._connection()
        with _transaction(conn):
            conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: the switch ignores busy_timeout while another opener does it."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock up front, so readers never need to upgrade."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
