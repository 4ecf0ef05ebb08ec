"""Slack over Socket Mode (no public URL), with the process's web app still served over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.adapters.alerts import AlertWebhook
from bot.adapters.inflight import InFlight
from bot.adapters.slack.api_errors import api_error
from bot.adapters.slack.intake import Intake, answered, taking_in
from bot.adapters.web import listening, web_app
from bot.engine.engine import Engine
from bot.errors import ConfigError

# The stall clock's tick; a gap of two ticks is a stall.
TICK_S = 0.2
# Envelopes that waited out a stall are all read within this after it ends.
DRAIN_S = 1.0


class StallClock:
    """Notices when this process stood still (SIGSTOP, a frozen host): an envelope read just
    after may have waited in the socket all that time, and Socket Mode does not say when Slack
    sent a slash command or a modal."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._stalled_from = 0.0
        self._woke = -DRAIN_S

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            if now - self._last > 2 * TICK_S:
                self._stalled_from, self._woke = self._last, now
            self._last = now

    def waited(self) -> float:
        """How long an envelope read now may have waited unread (0 when nothing stood still)."""
        now = time.monotonic()
        if now - self._last > 2 * TICK_S:
            # Woken, and this envelope is read before the clock's own tick.
            return now - self._last
        if now - self._woke < DRAIN_S:
            return now - self._stalled_from
        return 0.0


def sent_at(payload: dict[str, Any], waited: float) -> float:
    """When Slack sent the envelope, at the latest: a click carries its time; anything else is
    taken as read now, or as early as the process may have stood still before reading it."""
    sent = time.time() - waited
    actions = payload.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        with suppress(TypeError, ValueError):
            sent = min(sent, float(actions[0].get("action_ts") or sent))
    return sent


class DrainingSocketModeHandler(AsyncSocketModeHandler):
    """Counts each envelope's work as in flight; once draining, leaves new envelopes
    unacknowledged, so Slack delivers them again, to a replica still connected. Each envelope
    is dated for its intake (see bot/adapters/slack/intake.py)."""

    def __init__(self, app: AsyncApp, app_token: str, inflight: InFlight) -> None:
        super().__init__(app, app_token=app_token)
        self._inflight = inflight
        self._closed = False
        self.stalls = StallClock()

    # Bolt narrows the client type the same way.
    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if self._inflight.draining:
            return
        payload = req.payload if isinstance(req.payload, dict) else {}
        intake = Intake(sent_at=sent_at(payload, self.stalls.waited()))
        with self._inflight.request(), taking_in(intake):
            await super().handle(client, req)
        url = payload.get("response_url")
        await answered(intake, AsyncRespond(response_url=url) if url else None)

    async def disconnect_once(self) -> None:
        if not self._closed:
            self._closed = True
            await self.close_async()  # type: ignore[no-untyped-call]


@asynccontextmanager
async def socket_mode(
    bolt: AsyncApp,
    engine: Engine,
    app_token: str,
    host: str,
    port: int,
    alerts: AlertWebhook | None = None,
    inflight: InFlight | None = None,
) -> AsyncIterator[int]:
    """Connects `bolt` over Socket Mode and serves health (and alerts) on host:port; yields
    the bound port. A drain of `inflight` disconnects once no envelope is being handled."""
    tracked = InFlight() if inflight is None else inflight
    handler = DrainingSocketModeHandler(bolt, app_token, tracked)
    tracked.before_tasks(handler.disconnect_once)
    stalls = asyncio.create_task(handler.stalls.run())
    try:
        app = web_app(bolt, engine, alerts=alerts, inflight=tracked)
        async with listening(app, host, port) as bound:
            try:
                # The SDK retries a refused token forever; asking first makes it one line.
                handler.client.wss_uri = await handler.client.issue_new_wss_url()
            except SlackApiError as exc:
                await handler.disconnect_once()
                error = api_error(exc)
                raise ConfigError(f"Slack refused the Socket Mode connection: {error}") from None
            await handler.connect_async()  # type: ignore[no-untyped-call]
            try:
                yield bound
            finally:
                await handler.disconnect_once()
    finally:
        stalls.cancel()
