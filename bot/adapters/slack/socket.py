"""Slack over Socket Mode (no public URL), with `/healthz` and `/readyz` still served over HTTP."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.adapters.alerts import AlertWebhook
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


@asynccontextmanager
async def socket_mode(
    bolt: AsyncApp,
    engine: Engine,
    app_token: str,
    host: str,
    port: int,
    alerts: AlertWebhook | None = None,
) -> AsyncIterator[int]:
    """Connects `bolt` over Socket Mode and serves health (and alerts) on host:port; yields
    the bound port."""
    handler = AsyncSocketModeHandler(bolt, app_token=app_token)
    async with listening(web_app(bolt, engine, alerts=alerts), host, port) as bound:
        try:
            # The SDK retries a refused token forever; asking first makes it a one-line error.
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except SlackApiError as exc:
            await handler.close_async()  # type: ignore[no-untyped-call]
            error = exc.response.get("error") or exc.response.status_code
            raise ConfigError(f"Slack refused the Socket Mode connection: {error}") from None
        await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            yield bound
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]


async def run_socket_mode(settings: Settings, config: Config, host: str, port: int) -> None:
    """Slack over Socket Mode until SIGTERM or SIGINT, then a clean shutdown."""
    required(settings.slack_bot_token, "SLACK_BOT_TOKEN")
    app_token = required(settings.slack_app_token, "SLACK_APP_TOKEN")
    from bot.adapters.slack.alert_sink import SlackAlertSink
    from bot.adapters.slack.app import build_slack

    async with running_engine(settings, config) as engine, aiohttp.ClientSession() as session:
        slack = build_slack(engine, config, settings, socket_mode=True, session=session)
        alerts = AlertWebhook(engine, SlackAlertSink(slack.notifier.ctx))
        async with (
            Scheduler(engine, slack.notifier, owner=process_owner()),
            running_integrations(engine, room_reporter(slack.notifier.ctx)),
            socket_mode(slack.app, engine, app_token, host, port, alerts) as bound,
        ):
            print(f"runbook-bot: Slack over Socket Mode; health on {host}:{bound}", file=sys.stderr)
            await until_signalled()
