"""Commands a Redis server has run, from INFO commandstats."""

from __future__ import annotations

from redis.asyncio import Redis


async def command_count(url: str) -> int:
    """Calls of every command since the server started, not counting INFO itself."""
    client: Redis = Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return sum(
        int(fields["calls"])
        for name, fields in stats.items()
        if name.startswith("cmdstat_") and name not in ("cmdstat_info",)
    )
