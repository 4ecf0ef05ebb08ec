"""The Redis key layout: an incident's keys share a slot, and a write no replica confirms fails."""

from __future__ import annotations

import json
import uuid

import pytest

from bot.errors import StoreError
from bot.store import Record, RedisStore
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_sentinel import redis_cli


def incident(number: int, status: str = "open") -> Record:
    return Record(f"INC-{number:04d}", status, 1, json.dumps({"title": f"incident {number}"}))


async def test_an_incidents_record_and_claims_share_one_slot_on_a_cluster(
    redis_cluster: RedisCluster,
) -> None:
    prefix = f"test-{uuid.uuid4().hex}:"
    store = RedisStore(redis_cluster.url, prefix)
    try:
        await store.insert(incident(1))
        await store.insert(incident(2))
        await store.replace(incident(1, status="resolved"))
        assert await store.claim("fix:INC-0001:A1", "me", ttl_s=60)
        assert await store.claim("timer:INC-0001:level-2", "me", ttl_s=60)
        assert await store.claim("fix:INC-0002:A1", "me", ttl_s=60)
    finally:
        await store.close()

    keys = [
        key
        for port in redis_cluster.ports
        for key in redis_cli(port, "--scan", "--pattern", f"{prefix}*").split()
    ]
    slots = {key: int(redis_cli(redis_cluster.ports[0], "CLUSTER", "KEYSLOT", key)) for key in keys}
    first = {slots[k] for k in keys if "INC-0001" in k}
    second = {slots[k] for k in keys if "INC-0002" in k}
    indexes = {slots[k] for k in keys if "{index}" in k}
    assert len([k for k in keys if "INC-0001" in k]) == 3
    assert len(first) == len(second) == len(indexes) == 1
    assert first != second, "incidents spread over the cluster"


async def test_a_record_write_no_replica_confirms_is_refused_in_one_line(redis_url: str) -> None:
    store = RedisStore(redis_url + "?replicas=1", f"test-{uuid.uuid4().hex}:")
    try:
        with pytest.raises(StoreError) as raised:
            await store.insert(incident(1))
        # A claim is not waited on by itself: the record write that follows it confirms it.
        assert await store.claim("fix:INC-0001:A1", "me", ttl_s=60)
    finally:
        await store.close()
    message = str(raised.value)
    assert "not confirmed by 1 replica(s)" in message
    assert "\n" not in message


async def test_on_a_cluster_with_replicas_each_record_write_is_confirmed_by_one() -> None:
    with RedisCluster(replicas=1) as cluster:
        store = RedisStore(cluster.url + "?replicas=1", f"test-{uuid.uuid4().hex}:")
        try:
            for n in range(1, 6):
                await store.insert(incident(n))
            moved = await store.replace(incident(3, status="resolved"))
            assert await store.list("resolved") == [moved]
            assert [r.id for r in await store.list("open")] == [
                "INC-0001",
                "INC-0002",
                "INC-0004",
                "INC-0005",
            ]
        finally:
            await store.close()


async def test_on_a_cluster_without_replicas_a_write_asked_to_wait_is_refused(
    redis_cluster: RedisCluster,
) -> None:
    store = RedisStore(redis_cluster.url + "?replicas=1", f"test-{uuid.uuid4().hex}:")
    try:
        with pytest.raises(StoreError, match=r"not confirmed by 1 replica\(s\)"):
            await store.insert(incident(1))
    finally:
        await store.close()
