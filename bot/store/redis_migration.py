"""Moves a Redis store written before hash-tagged keys to the current layout, once, offline.

Run with every bot replica stopped: `REDIS_URL=... python -m bot.store.redis_migration`.
Records move from `PREFIX record:ID` to `PREFIX record:{ID}`, the indexes from `PREFIX ids` and
`PREFIX status:S` to `PREFIX {index}:ids` and `PREFIX {index}:status:S`; the counter keeps its
key, and old claims are left to expire. Running it again changes nothing.
"""

from __future__ import annotations

import asyncio
import os
import sys

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import BotError, ConfigError
from bot.store.redis import DEFAULT_PREFIX
from bot.store.redis_connection import connect, parse


async def migrate(url: str, prefix: str = DEFAULT_PREFIX) -> int:
    """Move every old-layout record and index entry; returns how many records moved."""
    target = parse(url)
    if target.mode == "cluster":
        raise ConfigError("a Cluster never held the old layout: nothing to migrate")
    redis = connect(target)
    assert isinstance(redis, Redis)
    moved = 0
    try:
        for id in sorted(str(member) for member in await redis.smembers(prefix + "ids")):
            old, new = f"{prefix}record:{id}", f"{prefix}record:{{{id}}}"
            found = await redis.hget(old, "status")
            if found is None:
                continue
            status = str(found)
            # Indexed first, as the store itself does, so no index ever misses the record.
            await redis.sadd(f"{prefix}{{index}}:ids", id)
            await redis.sadd(f"{prefix}{{index}}:status:{status}", id)
            if await redis.renamenx(old, new):
                moved += 1
        old_indexes = [key async for key in redis.scan_iter(match=f"{prefix}status:*")]
        await redis.delete(prefix + "ids", *old_indexes)
    finally:
        await redis.aclose()
    return moved


def main() -> int:
    """Migrate the store REDIS_URL names; prints one line."""
    url = os.environ.get("REDIS_URL")
    if not url:
        print("set REDIS_URL to the store to migrate", file=sys.stderr)
        return 2
    try:
        moved = asyncio.run(migrate(url))
    except (BotError, RedisError, OSError) as exc:
        print(f"not migrated: {exc}", file=sys.stderr)
        return 1
    print(f"moved {moved} record(s) to the hash-tagged layout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
