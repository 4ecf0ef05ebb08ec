"""The postgres container's port answers a readiness check from the real asyncpg client."""

from __future__ import annotations

import socket

import asyncpg
import pytest

from bot.config import ServiceBinding
from tests.drills.docker.conftest import Engine, wait_until


def _url(engine: Engine) -> str:
    url = ServiceBinding.model_validate(engine.sandbox.binding()).dependencies["postgres"].url
    assert url is not None
    return url


async def test_a_readiness_check_gets_its_rows(engine: Engine) -> None:
    url = _url(engine)
    assert "dk-pgpass-K5d9sL1c" in url  # the container's own password, a secret to redact
    db = await asyncpg.connect(url, timeout=10)
    try:
        assert await db.fetchval("SELECT 1") == 1
        assert await db.fetchval("SHOW server_version") == "15.4"
        assert await db.fetchval("SELECT current_database()") == "structured_prompt_db"
        # The simple query protocol (what psql -c sends) is answered too.
        assert await db.execute("SELECT 1;") == "SELECT 1"
    finally:
        await db.close()


async def test_other_queries_are_refused_and_the_connection_goes_on(engine: Engine) -> None:
    db = await asyncpg.connect(_url(engine), timeout=10)
    try:
        with pytest.raises(asyncpg.PostgresError, match="answers only readiness checks"):
            await db.fetch("SELECT * FROM users")
        assert await db.fetchval("SELECT 2") == 2
    finally:
        await db.close()


async def test_a_stopped_postgres_container_refuses_connections(engine: Engine) -> None:
    engine.client.containers.get("postgres").stop()

    def refused() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", engine.sandbox.port_of("postgres"))) != 0

    assert wait_until(refused)
    with pytest.raises(OSError):
        await asyncpg.connect(_url(engine), timeout=10)
