"""The one composition root: builds the Slack adapter over the engine and runs it over either
transport, with the process's web app, timers and integrations around it."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import aiohttp
from slack_bolt.async_app import AsyncApp

from bot.adapters.alerts import AlertWebhook
from bot.adapters.inflight import SHUTDOWN_GRACE_S, InFlight
from bot.adapters.slack import intake, room_repair
from bot.adapters.slack.client import web_client
from bot.adapters.slack.context import SlackContext, text_message
from bot.adapters.slack.identity import Identities
from bot.adapters.slack.listeners import (
    commands,
    home,
    interactions,
    pins,
    shortcuts,
    views,
)
from bot.adapters.slack.listeners.alert_sink import SlackAlertSink
from bot.adapters.slack.listeners.nudges import SlackNotifier
from bot.adapters.slack.rooms import Rooms
from bot.adapters.slack.transport.http import EVENTS_PATH, RefuseReplays
from bot.adapters.slack.transport.malformed import RefuseMalformed
from bot.adapters.slack.transport.socket_mode import socket_mode
from bot.adapters.slack.transport.stale import RefuseStale
from bot.adapters.web import listening, until_signalled, web_app
from bot.app import running_engine
from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.incident import Incident
from bot.engine.scheduler import Scheduler, process_owner
from bot.engine.targets import Sandboxes
from bot.errors import ConfigError
from bot.integrations.listener import Reporter, running_integrations
from bot.settings import Settings
from bot.store.base import Store


@dataclass(frozen=True)
class SlackTokens:
    """What one transport needs from Slack: the bot token, and a signing secret (HTTP) or an
    app token (Socket Mode, whose connection the app token authenticates instead)."""

    bot: str
    signing_secret: str | None = None
    app_token: str | None = None


def slack_tokens(settings: Settings, *, socket_mode: bool = False) -> SlackTokens:
    """The one check of Slack's tokens; ConfigError naming the first one unset."""
    bot = _required(settings.slack_bot_token, "SLACK_BOT_TOKEN")
    if socket_mode:
        return SlackTokens(bot, app_token=_required(settings.slack_app_token, "SLACK_APP_TOKEN"))
    secret = _required(settings.slack_signing_secret, "SLACK_SIGNING_SECRET")
    return SlackTokens(bot, signing_secret=secret)


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ConfigError(f"{name} is not set (see 'Connecting to Slack' in the README)")
    return value


@dataclass(frozen=True)
class SlackAdapter:
    app: AsyncApp
    # Posts escalation nudges and status reminders when the scheduler fires them.
    notifier: SlackNotifier


def bolt_app(
    settings: Settings,
    tokens: SlackTokens,
    store: Store,
    session: aiohttp.ClientSession | None = None,
) -> AsyncApp:
    """A Bolt app with no listeners. Over HTTP, Bolt checks every request's signature; then a
    request Slack has given up on is refused, and (HTTP) a replay; Socket Mode has no HTTP
    requests to sign. Then malformed payloads get 400."""
    app = AsyncApp(
        client=web_client(settings, session),
        signing_secret=tokens.signing_secret or "",
        request_verification_enabled=tokens.signing_secret is not None,
        # Ack as soon as a listener calls ack(); the work goes on after the response.
        process_before_response=False,
    )
    app.use(RefuseStale(settings.stale_after_s))
    if tokens.signing_secret is not None:
        app.use(RefuseReplays(store))
    app.use(RefuseMalformed())
    return app


def build_slack(
    engine: Engine,
    config: Config,
    settings: Settings,
    *,
    socket_mode: bool = False,
    session: aiohttp.ClientSession | None = None,
    tokens: SlackTokens | None = None,
    sandboxes: Sandboxes | None = None,
) -> SlackAdapter:
    """A listener stores its decision, then acks, then works on, and Slack always hears back
    within 3 s; a decision on a request Slack gave up on is refused (see intake.py)."""
    if tokens is None:
        tokens = slack_tokens(settings, socket_mode=socket_mode)
    app = bolt_app(settings, tokens, engine.store, session)
    engine.check_writes(intake.check_write)
    engine.on_change(intake.note_change)
    ctx = SlackContext(
        engine=engine,
        config=config,
        rooms=Rooms(app.client, engine, config),
        identities=Identities(app.client, config.approvers),
        sandboxes=sandboxes,
    )
    commands.register(app, ctx)
    views.register(app, ctx)
    shortcuts.register(app, ctx)
    pins.register(app, ctx)
    home.register(app, ctx)
    # Last: its catch-all answers any action id the others did not claim.
    interactions.register(app, ctx)
    return SlackAdapter(app=app, notifier=SlackNotifier(ctx))


def room_reporter(ctx: SlackContext) -> Reporter:
    """Tells the incident's room when the status page or pager could not be reached."""

    async def report(incident: Incident, line: str) -> None:
        message = text_message(line)
        in_room = await room_repair.room_or_hold(ctx, incident, message)
        if in_room is not None:
            await ctx.rooms.post(in_room, message)

    return report


async def run(
    settings: Settings,
    config: Config,
    tokens: SlackTokens,
    host: str,
    port: int,
    grace_s: float = SHUTDOWN_GRACE_S,
    sandboxes: Callable[[Engine, Settings], Sandboxes] | None = None,
) -> None:
    """Slack over HTTP, or over Socket Mode when `tokens` has an app token, until SIGTERM or
    SIGINT; then a clean shutdown: new requests get 503 (Socket Mode disconnects once the
    envelopes under way are acked), work under way gets up to `grace_s` to finish, timer claims
    are released, the store closed. With `sandboxes`, `/incident drill` runs game days."""
    inflight = InFlight()
    async with running_engine(settings, config) as engine, aiohttp.ClientSession() as session:
        pool = sandboxes(engine, settings) if sandboxes is not None else None
        slack = build_slack(
            engine, config, settings, session=session, tokens=tokens, sandboxes=pool
        )
        ctx = slack.notifier.ctx
        alerts = AlertWebhook(engine, SlackAlertSink(ctx))
        async with AsyncExitStack() as stack:
            # Last out: the drills' sandboxes outlive every flow that may still reach them.
            if ctx.sandboxes is not None:
                stack.push_async_callback(ctx.sandboxes.close)
            await stack.enter_async_context(
                Scheduler(
                    engine,
                    slack.notifier,
                    owner=process_owner(),
                    sync_interval=settings.timer_sync_s,
                )
            )
            await stack.enter_async_context(running_integrations(engine, room_reporter(ctx)))
            await stack.enter_async_context(room_repair.repairing(ctx.rooms))
            if tokens.app_token is not None:
                bound = await stack.enter_async_context(
                    socket_mode(slack.app, engine, tokens.app_token, host, port, alerts, inflight)
                )
                banner = f"Slack over Socket Mode; health on {host}:{bound}"
            else:
                app = web_app(
                    slack.app, engine, slack_events=True, alerts=alerts, inflight=inflight
                )
                bound = await stack.enter_async_context(listening(app, host, port))
                banner = f"Slack over HTTP on {host}:{bound}{EVENTS_PATH}"
            await stack.enter_async_context(inflight.tracking())
            print(f"runbook-bot: {banner}", file=sys.stderr)
            # Start-up objects live for the whole run: keep the collector from rescanning them.
            gc.freeze()
            await until_signalled()
            await inflight.drain(grace_s)
