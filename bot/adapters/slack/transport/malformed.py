"""Refuses signed interactions Bolt cannot route, with a 400 and one line instead of a 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

logger = logging.getLogger(__name__)

NO_ACTIONS = "block_actions payload without actions"


class RefuseMalformed(AsyncMiddleware):
    """A `block_actions` payload always names the action clicked; Bolt's listener matching
    indexes the first one, so a payload without any is answered here."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        # Bolt calls it with this keyword, shadowing the builtin.
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        body = req.body
        if body.get("type") == "block_actions":
            clicked = body.get("actions")
            if not isinstance(clicked, list) or not clicked or not isinstance(clicked[0], dict):
                logger.warning("refused a %s", NO_ACTIONS)
                return BoltResponse(status=400, body=NO_ACTIONS)
        return await next()
