"""RedisExecutor against a real redis-server."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from bot.config import ServiceBinding
from bot.drills.wire.listener import Listener
from bot.drills.wire.resp import serve_redis
from bot.executors.base import CheckResult, WriteAction
from bot.executors.redis import (
    RedisBgsave,
    RedisConfig,
    RedisExecutor,
    RedisFlushDb,
    RedisInfo,
    RedisPing,
)
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


async def test_other_writes_are_refused() -> None:
    write = WriteAction(type="redis.flushall")
    assert (await RedisExecutor().apply(write, TARGET)).status == "error"
    assert (await RedisExecutor().preview(write, TARGET)).error == "not a Redis fix: redis.flushall"


async def config(url: str, pattern: str) -> CheckResult:
    action = RedisConfig(type="redis.config", url=url, pattern=pattern)
    return await RedisExecutor().check(action, TARGET)


async def test_config_get(redis_url: str) -> None:
    result = await config(redis_url, "maxmemory*")

    assert result.status == "ok"
    facts = findings(result)
    assert facts["redis.config.maxmemory"] == "0"
    assert facts["redis.config.maxmemory-policy"] == "noeviction"
    assert "maxmemory: 0" in result.output.splitlines()
    assert result.summary.startswith(f"redis {redis_url} CONFIG GET maxmemory*: ")


async def test_config_get_nothing_matches(redis_url: str) -> None:
    result = await config(redis_url, "no-such-setting-*")

    assert result.status == "ok"
    assert result.summary.endswith(": no setting matches")
    assert result.findings == []


async def test_config_answered_by_something_not_redis_is_one_line() -> None:
    # The sandbox's tiny RESP server answers +OK to CONFIG, as a proxy might.
    listener = Listener(serve_redis)
    listener.set_open(True)
    try:
        result = await config(f"redis://127.0.0.1:{listener.port}/0", "*")
    finally:
        listener.close()
    assert result.status == "error"
    assert result.summary.endswith("CONFIG GET *: the server did not answer a mapping")


async def test_config_never_shows_passwords() -> None:
    with RedisServer(password="cfg-pass-31") as server:
        admin = Redis.from_url(server.url)
        try:
            await admin.config_set("masterauth", "master-pass-32")
            everything = await config(server.url, "*")
            requirepass = await config(server.url, "requirepass")
        finally:
            await admin.aclose()

    assert everything.status == "ok"
    assert "requirepass: [redacted]" in everything.output.splitlines()
    assert "masterauth: [redacted]" in everything.output.splitlines()
    assert findings(requirepass) == {"redis.config.requirepass": "[redacted]"}
    for result in (everything, requirepass):
        shown = result.summary + result.output + str(result.findings)
        assert "cfg-pass-31" not in shown
        assert "master-pass-32" not in shown


@pytest.fixture
async def two_dbs() -> AsyncIterator[tuple[RedisServer, Redis, Redis]]:
    """A server of its own with 3 keys in db 0 and 5 in db 1."""
    with RedisServer() as server:
        db0 = Redis.from_url(server.url)
        db1 = Redis.from_url(server.url.removesuffix("/0") + "/1")
        try:
            await db0.mset({f"keep:{i}": i for i in range(3)})
            await db1.mset({f"drop:{i}": i for i in range(5)})
            yield server, db0, db1
        finally:
            await db0.aclose()
            await db1.aclose()


async def test_flushdb_previews_then_flushes_only_its_db(
    two_dbs: tuple[RedisServer, Redis, Redis],
) -> None:
    server, db0, db1 = two_dbs
    url = server.url.removesuffix("/0") + "/1"
    fix = RedisFlushDb(type="redis.flushdb", url=url)

    preview = await RedisExecutor().preview(fix, TARGET)
    assert preview.error is None
    assert preview.summary.startswith(f"FLUSHDB on {url} would delete 5 keys (")
    assert preview.summary.endswith(" MiB used)")
    assert await db1.dbsize() == 5

    result = await RedisExecutor().apply(fix, TARGET)
    assert result.status == "ok"
    assert result.summary == "deleted 5 keys from db 1"
    assert findings(result) == {"redis.deleted_keys": 5}
    assert await db1.dbsize() == 0
    assert await db0.dbsize() == 3

    empty = await RedisExecutor().preview(fix, TARGET)
    assert empty.error == f"db 1 on {url} has no keys; FLUSHDB would change nothing"


async def test_bgsave_previews_then_saves() -> None:
    with RedisServer() as server:
        admin = Redis.from_url(server.url, decode_responses=True)
        try:
            await admin.set("bgsave:key", "1")
            fix = RedisBgsave(type="redis.bgsave", url=server.url)

            preview = await RedisExecutor().preview(fix, TARGET)
            assert preview.error is None
            assert "would snapshot 1 change(s) since the last save" in preview.summary
            assert "rdb_changes_since_last_save: 1" in preview.before
            directory = (await admin.config_get("dir"))["dir"]
            assert directory is not None
            rdb = Path(directory) / "dump.rdb"
            assert not rdb.exists()

            result = await RedisExecutor().apply(fix, TARGET)
            assert result.status == "ok"
            assert result.summary == "background save started"

            deadline = time.monotonic() + 60
            while (await admin.info("persistence"))["rdb_changes_since_last_save"] != 0:
                assert time.monotonic() < deadline, "the background save never finished"
                await asyncio.sleep(0.1)
            assert rdb.exists()
        finally:
            await admin.aclose()


@pytest.mark.parametrize(
    ("fix_type", "command"), [("redis.flushdb", "FLUSHDB"), ("redis.bgsave", "BGSAVE")]
)
async def test_fixes_against_a_closed_port_are_one_line(fix_type: str, command: str) -> None:
    url = f"redis://:fix-pass-41@127.0.0.1:{free_port()}/0"
    shown = url.replace(":fix-pass-41@", "")
    model = RedisFlushDb if fix_type == "redis.flushdb" else RedisBgsave
    fix = model.model_validate({"type": fix_type, "url": url})

    preview = await RedisExecutor().preview(fix, TARGET)
    result = await RedisExecutor().apply(fix, TARGET)

    assert preview.error == f"redis {shown} {command}: connection refused"
    assert result.status == "error"
    assert result.summary == f"redis {shown} {command}: connection refused"
    assert "fix-pass-41" not in preview.model_dump_json() + result.model_dump_json()


async def test_fixes_with_a_wrong_password_change_nothing() -> None:
    with RedisServer(password="right-pass-5") as server:
        admin = Redis.from_url(server.url)
        try:
            await admin.set("guarded", "1")
            url = f"redis://:wrong-pass-6@127.0.0.1:{server.port}/0"
            fix = RedisFlushDb(type="redis.flushdb", url=url)
            preview = await RedisExecutor().preview(fix, TARGET)
            result = await RedisExecutor().apply(fix, TARGET)
            assert await admin.dbsize() == 1
        finally:
            await admin.aclose()

    assert preview.error is not None
    assert preview.error.endswith("FLUSHDB: authentication failed")
    assert result.status == "error"
    assert result.summary.endswith("FLUSHDB: authentication failed")
    assert "wrong-pass-6" not in preview.model_dump_json() + result.model_dump_json()


@pytest.mark.parametrize(
    "params",
    [
        {"type": "redis.ping", "url": "file:///etc/passwd"},
        {"type": "redis.ping", "url": "http://cache:6379"},
        {"type": "redis.ping", "url": "redis://ca che:6379"},
        {"type": "redis.ping", "url": "redis://cache:6379", "timeout_s": 0},
        {"type": "redis.info", "url": "redis://cache:6379", "section": "commandstats"},
        {"type": "redis.config", "url": "redis://cache:6379", "pattern": "max memory"},
        {"type": "redis.config", "url": "redis://cache:6379", "pattern": "a;CONFIG SET"},
        {"type": "redis.flushdb", "url": "redis://cache:6379", "timeout_s": 61},
    ],
)
def test_bad_params_are_rejected(params: dict[str, object]) -> None:
    models: dict[object, type[BaseModel]] = {
        "redis.ping": RedisPing,
        "redis.info": RedisInfo,
        "redis.config": RedisConfig,
        "redis.flushdb": RedisFlushDb,
    }
    model = models[params["type"]]
    with pytest.raises(ValidationError):
        model.model_validate(params)


def test_placeholder_url_is_accepted_at_load_time() -> None:
    url = "${service.dependencies.redis.url}"
    assert RedisPing(type="redis.ping", url=url).url == url
