"""The Bolt app: the Slack adapter over the engine."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from slack_bolt.async_app import AsyncApp

from bot.adapters.slack import commands, interactions, status
from bot.adapters.slack.client import web_client
from bot.adapters.slack.context import SlackContext
from bot.adapters.slack.identity import Identities
from bot.adapters.slack.nudges import SlackNotifier
from bot.adapters.slack.rooms import Rooms
from bot.config import Config
from bot.engine.engine import Engine
from bot.errors import ConfigError
from bot.settings import Settings


@dataclass(frozen=True)
class SlackAdapter:
    app: AsyncApp
    # Posts escalation nudges and status reminders when the scheduler fires them.
    notifier: SlackNotifier


def build_slack_app(
    engine: Engine,
    config: Config,
    settings: Settings,
    *,
    socket_mode: bool = False,
    session: aiohttp.ClientSession | None = None,
) -> AsyncApp:
    """The Bolt app alone, for callers that run no timers."""
    adapter = build_slack(engine, config, settings, socket_mode=socket_mode, session=session)
    return adapter.app


def build_slack(
    engine: Engine,
    config: Config,
    settings: Settings,
    *,
    socket_mode: bool = False,
    session: aiohttp.ClientSession | None = None,
) -> SlackAdapter:
    """Every listener acks first and works after, so Slack always hears back within 3 s.

    Over HTTP every request must carry Slack's signature; Socket Mode has no HTTP requests
    to sign (the app token authenticates the connection), so it needs no signing secret.
    """
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    if not socket_mode and not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is not set")
    client = web_client(settings, session)
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not socket_mode,
        # Ack as soon as a listener calls ack(); the work goes on after the response.
        process_before_response=False,
    )
    ctx = SlackContext(
        engine=engine,
        config=config,
        rooms=Rooms(client, engine, config),
        identities=Identities(client, config.approvers),
    )
    commands.register(app, ctx)
    status.register(app, ctx)
    # Last: its catch-all answers any action id the others did not claim.
    interactions.register(app, ctx)
    return SlackAdapter(app=app, notifier=SlackNotifier(ctx))
