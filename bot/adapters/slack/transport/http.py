"""Slack over HTTP: `POST /slack/events` into Bolt, which checks the signature once, then refuses
replays in its middleware."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.adapters.slack.intake import Intake, answered, taking_in
from bot.adapters.slack.transport.store_down import store_down_response
from bot.errors import BotError
from bot.redact import redact
from bot.store.base import Store

EVENTS_PATH = "/slack/events"
# Outlives Bolt's 5-minute timestamp window, so a replay is refused for as long as it could pass.
REPLAY_TTL_S = 600.0

logger = logging.getLogger(__name__)


class ReplayGuard:
    """Refuses a request signature seen before within REPLAY_TTL_S, by this or any process.

    The store keeps the signatures (a claim with an expiry in either backend), so a restart or
    another replica refuses a replay too; the memory only spares the store a repeated claim.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._owner = f"{os.uname().nodename}:{os.getpid()}"
        self._seen: dict[str, float] = {}

    async def first_time(self, signature: str) -> bool:
        """True once per signature; StoreError when the store cannot say."""
        now = time.monotonic()
        # Insertion order is expiry order, since every entry lives as long.
        while self._seen and next(iter(self._seen.values())) <= now:
            self._seen.pop(next(iter(self._seen)))
        if signature in self._seen:
            return False
        self._seen[signature] = now + REPLAY_TTL_S
        return await self._store.claim("slack-sig:" + signature, self._owner, REPLAY_TTL_S)


class RefuseReplays(AsyncMiddleware):
    """Bolt middleware: a request whose signature Bolt has just verified is refused if seen before.

    Bolt runs its own middleware (signature verification first) before any added with `use`.
    """

    def __init__(self, store: Store) -> None:
        self._replays = ReplayGuard(store)

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        # Bolt calls it with this keyword, shadowing the builtin.
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        signature = req.headers.get("x-slack-signature", [""])[0]
        try:
            fresh = await self._replays.first_time(signature)
        except BotError as exc:
            logger.warning("%s", redact(f"replay check failed: {exc}"))
            return store_down_response(req)
        if not fresh:
            logger.warning("refused a replayed Slack request")
            return BoltResponse(status=401, body="replayed request")
        return await next()


def events_handler(bolt: AsyncApp) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Hands each request to Bolt; past the application's client_max_size reading it is a 413.

    The request's intake is dated by Slack's X-Slack-Request-Timestamp; the ack is written out
    here, before the listener goes on with what follows its decision."""

    async def handle(request: web.Request) -> web.StreamResponse:
        # Bolt's verifier raises, rather than refuses, on a timestamp that is not a number.
        sent = request.headers.get("X-Slack-Request-Timestamp", "0")
        if not sent.isdigit():
            return web.Response(status=401, text="invalid request signature or timestamp")
        with taking_in(Intake(sent_at=float(sent))) as intake:
            try:
                bolt_request = await to_bolt_request(request)
            except (ValueError, TypeError, AttributeError):
                return web.Response(status=400, text="malformed request body")
            response = await to_aiohttp_response(await bolt.async_dispatch(bolt_request))
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            # The balancer or Slack gave up on this request and closed the connection.
            logger.warning("the ack of a Slack request found its connection closed")
        await answered(intake, bolt_request.context.respond)
        return response

    return handle
