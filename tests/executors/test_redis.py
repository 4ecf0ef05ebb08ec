"""RedisExecutor against a real redis-server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, WriteAction
from bot.executors.redis import RedisExecutor, RedisInfo, RedisPing
from tests.support.redis_server import RedisServer, free_port

TARGET = ServiceBinding()


def findings(result: CheckResult) -> dict[str, object]:
    return {f.name: f.value for f in result.findings}


async def info(url: str, section: str) -> CheckResult:
    action = RedisInfo.model_validate({"type": "redis.info", "url": url, "section": section})
    return await RedisExecutor().check(action, TARGET)


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


async def test_ping(redis_url: str) -> None:
    result = await RedisExecutor().check(RedisPing(type="redis.ping", url=redis_url), TARGET)

    assert result.status == "ok"
    assert findings(result)["redis.ping"] is True
    assert isinstance(findings(result)["redis.latency_ms"], int)
    assert result.summary.startswith(f"redis {redis_url} PING: PONG in ")


async def test_info_replication_of_a_master(redis_url: str) -> None:
    result = await info(redis_url, "replication")

    assert result.status == "ok"
    facts = findings(result)
    assert facts["redis.role"] == "master"
    assert facts["redis.connected_slaves"] == 0
    assert "redis.master_link_status" not in facts
    assert "role: master" in result.output.splitlines()
    assert "role master, 0 replica(s)" in result.summary


async def test_info_memory_against_maxmemory(redis_url: str, admin: Redis) -> None:
    without_limit = findings(await info(redis_url, "memory"))
    assert isinstance(without_limit["redis.used_memory_mi"], float)
    assert "redis.used_memory_percent" not in without_limit

    await admin.config_set("maxmemory", str(1024 * 1024 * 1024))
    try:
        result = await info(redis_url, "memory")
    finally:
        await admin.config_set("maxmemory", "0")
    percent = findings(result)["redis.used_memory_percent"]
    assert isinstance(percent, float)
    assert 0 < percent < 100
    assert "% of maxmemory" in result.summary
    assert any(line.startswith("used_memory: ") for line in result.output.splitlines())


async def test_info_keyspace_lines(redis_url: str, admin: Redis) -> None:
    await admin.set("test_redis_executor:key", "1")
    try:
        result = await info(redis_url, "keyspace")
    finally:
        await admin.delete("test_redis_executor:key")

    assert result.status == "ok"
    assert any(line.startswith("db0: keys=") for line in result.output.splitlines())


async def test_replica_with_broken_master_link_is_a_problem() -> None:
    with RedisServer() as replica:
        admin = Redis.from_url(replica.url)
        try:
            await admin.replicaof("127.0.0.1", free_port())
            result = await info(replica.url, "replication")
        finally:
            await admin.aclose()

    assert result.status == "problem"
    facts = findings(result)
    assert facts["redis.role"] == "slave"
    assert facts["redis.master_link_status"] == "down"
    assert "master link down" in result.summary


async def test_wrong_password_is_an_error_without_the_password() -> None:
    with RedisServer(password="right-pass-1") as server:
        url = f"redis://:wrong-pass-2@127.0.0.1:{server.port}/0"
        ping = await RedisExecutor().check(RedisPing(type="redis.ping", url=url), TARGET)
        memory = await info(url, "memory")

    for result in (ping, memory):
        assert result.status == "error"
        assert result.summary.endswith(": authentication failed")
        assert "wrong-pass-2" not in result.summary + result.output


async def test_closed_port_with_password_is_one_line_without_it() -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    shown = url.replace(":hunter2-secret@", "")

    ping = await RedisExecutor().check(RedisPing(type="redis.ping", url=url), TARGET)
    assert ping.status == "problem"
    assert ping.summary == f"redis {shown} PING: connection refused"
    assert findings(ping) == {"redis.ping": False}

    replication = await info(url, "replication")
    assert replication.status == "error"
    assert replication.summary == f"redis {shown} INFO replication: connection refused"
    for result in (ping, replication):
        assert "hunter2-secret" not in result.summary + result.output + str(result.findings)


async def test_silent_server_times_out(silent_port: int) -> None:
    url = f"redis://127.0.0.1:{silent_port}/0"
    action = RedisPing(type="redis.ping", url=url, timeout_s=0.2)
    result = await RedisExecutor().check(action, TARGET)

    assert result.status == "problem"
    assert result.summary == f"redis {url} PING: timed out after 0.2s"


async def test_writes_are_refused() -> None:
    write = WriteAction(type="redis.flushall")
    assert (await RedisExecutor().apply(write, TARGET)).status == "error"
    assert (await RedisExecutor().preview(write, TARGET)).error is not None


@pytest.mark.parametrize(
    "params",
    [
        {"type": "redis.ping", "url": "file:///etc/passwd"},
        {"type": "redis.ping", "url": "http://cache:6379"},
        {"type": "redis.ping", "url": "redis://ca che:6379"},
        {"type": "redis.ping", "url": "redis://cache:6379", "timeout_s": 0},
        {"type": "redis.info", "url": "redis://cache:6379", "section": "commandstats"},
    ],
)
def test_bad_params_are_rejected(params: dict[str, object]) -> None:
    model = RedisPing if params["type"] == "redis.ping" else RedisInfo
    with pytest.raises(ValidationError):
        model.model_validate(params)


def test_placeholder_url_is_accepted_at_load_time() -> None:
    url = "${service.dependencies.redis.url}"
    assert RedisPing(type="redis.ping", url=url).url == url
