"""Slack over Socket Mode (no public URL), with `/healthz`, `/readyz` and `/metrics` still served
over HTTP."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.adapters.alerts import AlertWebhook
from bot.adapters.inflight import SHUTDOWN_GRACE_S, InFlight
from bot.adapters.slack.server import (
    listening,
    required,
    room_reporter,
    until_signalled,
    web_app,
)
from bot.app import running_engine
from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.scheduler import Scheduler, process_owner
from bot.errors import ConfigError
from bot.integrations.listener import running_integrations
from bot.settings import Settings


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
            error = exc.response.get("error") or exc.response.status_code
            raise ConfigError(f"Slack refused the Socket Mode connection: {error}") from None
        await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            yield bound
        finally:
            await handler.disconnect_once()


async def run_socket_mode(
    settings: Settings, config: Config, host: str, port: int, grace_s: float = SHUTDOWN_GRACE_S
) -> None:
    """Slack over Socket Mode until SIGTERM or SIGINT, then a clean shutdown: disconnect once
    the envelopes under way are acked, give their work up to `grace_s`, release timer claims."""
    required(settings.slack_bot_token, "SLACK_BOT_TOKEN")
    app_token = required(settings.slack_app_token, "SLACK_APP_TOKEN")
    from bot.adapters.slack.alert_sink import SlackAlertSink
    from bot.adapters.slack.app import build_slack

    inflight = InFlight()
    async with running_engine(settings, config) as engine, aiohttp.ClientSession() as session:
        slack = build_slack(engine, config, settings, socket_mode=True, session=session)
        alerts = AlertWebhook(engine, SlackAlertSink(slack.notifier.ctx))
        async with (
            Scheduler(engine, slack.notifier, owner=process_owner()),
            running_integrations(engine, room_reporter(slack.notifier.ctx)),
            socket_mode(slack.app, engine, app_token, host, port, alerts, inflight) as bound,
            inflight.tracking(),
        ):
            print(f"runbook-bot: Slack over Socket Mode; health on {host}:{bound}", file=sys.stderr)
            await until_signalled()
            await inflight.drain(grace_s)
