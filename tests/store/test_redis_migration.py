"""A store written in the old key layout is moved once and then read as before."""

from __future__ import annotations

import json
import uuid

import pytest
from redis.asyncio import Redis

from bot.errors import ConfigError
from bot.store import Record, RedisStore
from bot.store.redis_migration import migrate


async def test_old_records_indexes_and_counter_are_read_after_migrating(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}:"
    client: Redis = Redis.from_url(redis_url, decode_responses=True)
    bodies = {n: json.dumps({"title": f"incident {n}"}) for n in (1, 2)}
    # As the store before hash tags wrote them.
    for n, status in ((1, "open"), (2, "resolved")):
        id = f"INC-000{n}"
        await client.hset(
            f"{prefix}record:{id}", mapping={"status": status, "version": 3, "body": bodies[n]}
        )
        await client.sadd(f"{prefix}ids", id)
        await client.sadd(f"{prefix}status:{status}", id)
    await client.set(f"{prefix}counter", 2)

    assert await migrate(redis_url, prefix) == 2
    assert await migrate(redis_url, prefix) == 0

    store = RedisStore(redis_url, prefix)
    try:
        assert await store.load("INC-0001") == Record("INC-0001", "open", 3, bodies[1])
        assert [r.id for r in await store.list("open")] == ["INC-0001"]
        assert [r.id for r in await store.list()] == ["INC-0001", "INC-0002"]
        assert await store.next_number() == 3
        resolved = await store.replace(Record("INC-0001", "resolved", 3, bodies[1]))
        assert await store.list("resolved") == [
            resolved,
            Record("INC-0002", "resolved", 3, bodies[2]),
        ]
    finally:
        await store.close()
    left = [key async for key in client.scan_iter(match=f"{prefix}*")]
    await client.aclose()
    assert not [k for k in left if k.startswith((f"{prefix}status:", f"{prefix}ids"))]


async def test_a_cluster_has_nothing_to_migrate() -> None:
    with pytest.raises(ConfigError, match="nothing to migrate"):
        await migrate("redis+cluster://127.0.0.1:1")
