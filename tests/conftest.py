"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.drills.kubernetes import Sandbox
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_sentinel import RedisSentinel
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the whole session; skips when the binary is missing."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's real redis-server; tests keep apart by key prefix or by flushing."""
    return redis_server.url


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinel]:
    """One real Sentinel setup (primary, replica, three sentinels) for the session."""
    with RedisSentinel() as setup:
        yield setup


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """One real three-primary Redis Cluster for the session."""
    with RedisCluster() as cluster:
        yield cluster


@pytest.fixture
def scenario() -> str:
    """The sandbox scenario; tests override it with `pytest.mark.parametrize("scenario", ...)`."""
    return "oom-bad-deploy"


@pytest.fixture
def sandbox(scenario: str) -> Iterator[Sandbox]:
    sb = Sandbox.start(scenario, ready_delay=0.0)
    yield sb
    sb.stop()


@pytest.fixture
def kubeconfig(sandbox: Sandbox, tmp_path: Path) -> str:
    return str(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
