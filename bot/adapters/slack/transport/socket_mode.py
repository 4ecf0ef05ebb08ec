"""Slack over Socket Mode (no public URL), with the process's web app still served over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.adapters.alerts import AlertWebhook
from bot.adapters.inflight import InFlight
from bot.adapters.slack.api_errors import api_error
from bot.adapters.web import listening, web_app
from bot.engine.engine import Engine
from bot.errors import ConfigError


class DrainingSocketModeHandler(AsyncSocketModeHandler):
    """Counts each envelope's work as in flight; once draining, leaves new envelopes
    unacknowledged, so Slack delivers them again, to a replica still connected."""

    def __init__(self, app: AsyncApp, app_token: str, inflight: InFlight) -> None:
        super().__init__(app, app_token=app_token)
        self._inflight = inflight
        self._closed = False

    # Bolt narrows the client type the same way.
    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if self._inflight.draining:
            return
        with self._inflight.request():
            await super().handle(client, req)

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
    app = web_app(bolt, engine, alerts=alerts, inflight=tracked)
    async with listening(app, host, port) as bound:
        try:
            # The SDK retries a refused token forever; asking first makes it a one-line error.
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
