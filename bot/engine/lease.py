"""A claim in the store held only while its holder lives: renewed until released."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from bot.errors import BotError
from bot.store.base import Store

log = logging.getLogger(__name__)

# A holder killed outright keeps its claim this long; a live one renews it three times as often.
LEASE_S = 10.0


@contextlib.asynccontextmanager
async def renewed(
    store: Store, key: str, owner: str, lease_s: float = LEASE_S
) -> AsyncIterator[None]:
    """Keep owner's claim on key (already taken for lease_s) alive for the block, then release
    it."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                if not await store.renew(key, owner, lease_s):
                    log.error("lost the claim %s; another process may take the work over", key)
                    return
            except BotError as exc:
                log.warning("claim %s not renewed: %s", key, exc)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await store.release(key, owner)
        except BotError as exc:
            # It expires by itself; until then a recovery waits for it.
            log.warning("claim %s not released: %s", key, exc)
