"""The store contract, run against the embedded SQLite store and real Redis: one server,
behind Sentinel (a primary, a replica, three sentinels) and a three-primary Cluster."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.errors import ConflictError, NotFound, StoreError
from bot.store import Record, RedisStore, SqliteStore, Store, open_store
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_sentinel import RedisSentinel
from tests.support.redis_server import free_port

OpenStore = Callable[[], Store]


@pytest.fixture(params=["sqlite", "redis", "sentinel", "cluster"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | None, Path]:
    """Where one test's data lives: (redis_url or None, sqlite_path), as open_store takes them."""
    sqlite_path = tmp_path / "state" / "incidents.db"
    if request.param == "sqlite":
        return None, sqlite_path
    if request.param == "redis":
        return request.getfixturevalue("redis_url"), sqlite_path
    setup: RedisSentinel | RedisCluster = request.getfixturevalue(f"redis_{request.param}")
    return setup.url, sqlite_path


@pytest.fixture
async def open_new(location: tuple[str | None, Path]) -> AsyncIterator[OpenStore]:
    """Opens independent store instances on the same data, like separate bot processes."""
    redis_url, sqlite_path = location
    prefix = f"test-{uuid.uuid4().hex}:"
    opened: list[Store] = []

    def open_one() -> Store:
        store: Store = RedisStore(redis_url, prefix) if redis_url else SqliteStore(sqlite_path)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
def store(open_new: OpenStore) -> Store:
    return open_new()


def incident(number: int, status: str = "open", **fields: object) -> Record:
    body = json.dumps({"title": f"incident {number}", **fields})
    return Record(id=f"INC-{number:04d}", status=status, version=1, body=body)


async def test_insert_load_and_list_by_status(store: Store) -> None:
    await store.insert(incident(2))
    await store.insert(incident(1))
    await store.insert(incident(3, status="resolved"))

    assert await store.load("INC-0001") == incident(1)
    assert await store.load("INC-9999") is None
    assert [r.id for r in await store.list()] == ["INC-0001", "INC-0002", "INC-0003"]
    assert [r.id for r in await store.list("open")] == ["INC-0001", "INC-0002"]
    assert await store.list("resolved") == [incident(3, status="resolved")]
    assert await store.list("missing") == []


async def test_insert_of_an_existing_id_conflicts(store: Store) -> None:
    await store.insert(incident(1))
    with pytest.raises(ConflictError):
        await store.insert(incident(1, title="other"))
    assert await store.load("INC-0001") == incident(1)


async def test_replace_bumps_version_and_moves_status(store: Store) -> None:
    await store.insert(incident(1))
    first = await store.replace(incident(1, note="a"))
    assert first.version == 2
    second = await store.replace(Record(first.id, "resolved", first.version, first.body))

    assert second == Record("INC-0001", "resolved", 3, first.body)
    assert await store.load("INC-0001") == second
    assert await store.list("open") == []
    assert await store.list("resolved") == [second]


async def test_stale_replace_conflicts_and_keeps_the_stored_document(store: Store) -> None:
    await store.insert(incident(1))
    winner = await store.replace(incident(1, by="winner"))

    with pytest.raises(ConflictError):
        await store.replace(incident(1, by="loser"))
    assert await store.load("INC-0001") == winner


async def test_replace_of_a_missing_record_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.replace(incident(1))


async def test_concurrent_read_modify_write_from_two_instances_loses_no_update(
    open_new: OpenStore,
) -> None:
    first, second = open_new(), open_new()
    await first.insert(Record("INC-0001", "open", 1, json.dumps({"count": 0})))

    async def increment(store: Store) -> None:
        while True:
            current = await store.load("INC-0001")
            assert current is not None
            body = json.loads(current.body)
            body["count"] += 1
            try:
                await store.replace(
                    Record(current.id, current.status, current.version, json.dumps(body))
                )
                return
            except ConflictError:
                await asyncio.sleep(0)

    await asyncio.gather(*(increment(s) for _ in range(20) for s in (first, second)))

    final = await second.load("INC-0001")
    assert final is not None
    assert json.loads(final.body) == {"count": 40}
    assert final.version == 41


async def test_claim_succeeds_exactly_once_among_fifty_claimers_on_two_instances(
    open_new: OpenStore,
) -> None:
    stores = (open_new(), open_new())
    results = await asyncio.gather(
        *(stores[n % 2].claim("fix:INC-0001:restart", f"worker-{n}") for n in range(50))
    )
    assert results.count(True) == 1


async def test_expired_claim_can_be_taken_again(store: Store) -> None:
    assert await store.claim("fix", "first", ttl_s=0.05)
    # Polls until the ttl has passed; asserts the outcome, not how long it took.
    for _ in range(1000):
        if await store.claim("fix", "second", ttl_s=60):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the expired claim was never freed")
    assert not await store.claim("fix", "third")


async def test_release_by_another_owner_does_nothing(store: Store) -> None:
    assert await store.claim("fix", "owner")
    await store.release("fix", "intruder")
    assert not await store.claim("fix", "intruder")

    await store.release("fix", "owner")
    assert await store.claim("fix", "next")


async def test_a_claim_is_renewed_only_by_its_live_owner(store: Store) -> None:
    assert await store.claim("fix", "owner", ttl_s=0.3)
    assert not await store.renew("fix", "intruder", 60)
    assert await store.renew("fix", "owner", 60)
    await asyncio.sleep(0.5)
    # Renewed past its first ttl: still held.
    assert not await store.claim("fix", "next")
    await store.release("fix", "owner")

    assert await store.claim("lapsed", "owner", ttl_s=0.05)
    await asyncio.sleep(0.2)
    assert not await store.renew("lapsed", "owner", 60)
    assert await store.claim("lapsed", "next")


async def test_expired_claims_of_other_keys_are_swept(store: Store) -> None:
    for n in range(20):
        assert await store.claim(f"slack-sig:{n}", "guard", ttl_s=0.05)
    await asyncio.sleep(0.2)
    assert await store.claim("slack-sig:new", "guard", ttl_s=60)
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            assert conn.execute("SELECT key FROM claims").fetchall() == [("slack-sig:new",)]


async def test_data_survives_close_and_reopen(open_new: OpenStore) -> None:
    store = open_new()
    await store.insert(incident(1))
    updated = await store.replace(incident(1, status="resolved"))
    assert await store.next_number() == 1
    await store.close()

    reopened = open_new()
    assert await reopened.load("INC-0001") == updated
    assert await reopened.next_number() == 2


async def test_next_number_is_unique_across_instances(open_new: OpenStore) -> None:
    first, second = open_new(), open_new()
    numbers = await asyncio.gather(*(s.next_number() for _ in range(25) for s in (first, second)))
    assert sorted(numbers) == list(range(1, 51))


async def test_ping_answers_on_a_running_store(store: Store) -> None:
    await store.ping()


def test_two_processes_claim_a_key_once(location: tuple[str | None, Path]) -> None:
    redis_url, sqlite_path = location
    key = f"fix:{uuid.uuid4().hex}"
    script = textwrap.dedent(
        """
        import asyncio, sys
        from bot.store import open_store

        async def main() -> None:
            store = open_store(sys.argv[1] or None, sys.argv[2])
            try:
                print(await store.claim(sys.argv[3], sys.argv[4]))
            finally:
                await store.close()

        asyncio.run(main())
        """
    )
    args = [redis_url or "", str(sqlite_path), key]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args, owner],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for owner in ("process-a", "process-b")
    ]
    try:
        finished = [p.communicate(timeout=120) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert [p.returncode for p in processes] == [0, 0], [err for _, err in finished]
    assert sorted(out.strip() for out, _ in finished) == ["False", "True"]


async def test_unreachable_redis_raises_one_line_store_error_without_password() -> None:
    store = RedisStore(f"redis://admin:hunter2secret@127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(StoreError) as raised:
            await store.ping()
    finally:
        await store.close()
    message = str(raised.value)
    assert message.startswith("redis store:")
    assert "\n" not in message
    assert "hunter2secret" not in message


async def test_unwritable_sqlite_path_raises_one_line_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    store = SqliteStore(blocker / "incidents.db")
    try:
        with pytest.raises(StoreError) as raised:
            await store.ping()
    finally:
        await store.close()
    assert "\n" not in str(raised.value)
    assert str(blocker) in str(raised.value)


async def test_closed_sqlite_store_refuses_calls(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "incidents.db")
    await store.ping()
    await store.close()
    with pytest.raises(StoreError):
        await store.load("INC-0001")


async def test_open_store_picks_redis_only_when_a_url_is_given(tmp_path: Path) -> None:
    embedded = open_store(None, tmp_path / "incidents.db")
    shared = open_store("redis://127.0.0.1:1/0", tmp_path / "incidents.db")
    try:
        assert isinstance(embedded, SqliteStore)
        assert isinstance(shared, RedisStore)
    finally:
        await embedded.close()
        await shared.close()
