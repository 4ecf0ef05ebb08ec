"""Refuses a Slack request that reaches the bot after Slack has given up on it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.adapters.slack.intake import STALE_AFTER_S, current, late_line
from bot.adapters.slack.transport.store_down import told_after_ack

logger = logging.getLogger(__name__)


class RefuseStale(AsyncMiddleware):
    """Bolt middleware: a request older than `stale_after_s` (its process was stopped, or it
    waited unread) runs nothing; its sender is told so through its response_url.

    Runs after Bolt's signature check, so only Slack's own requests are answered.
    """

    def __init__(self, stale_after_s: float = STALE_AFTER_S) -> None:
        self._stale_after_s = stale_after_s

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        # Bolt calls it with this keyword, shadowing the builtin.
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        intake = current()
        if intake is None:
            return await next()
        intake.stale_after_s = self._stale_after_s
        if not intake.stale():
            return await next()
        age = intake.age()
        logger.warning("refused a Slack request %.1f s after it was sent", age)
        return told_after_ack(req, f":warning: {late_line(age)}")
