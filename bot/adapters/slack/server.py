"""The HTTP face of the Slack adapter: `POST /slack/events`, `/healthz`, `/readyz`, `/metrics`,
and `serve`."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.alerts import ALERTS_PATH, AlertWebhook
from bot.adapters.inflight import SHUTDOWN_GRACE_S, InFlight, refuse_while_draining
from bot.adapters.slack.context import SlackContext, text_message
from bot.app import running_engine
from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.incident import Incident
from bot.engine.scheduler import Scheduler, process_owner
from bot.errors import BotError, ConfigError
from bot.integrations.listener import Reporter, running_integrations
from bot.metrics import ACK_LATENCY, CONTENT_TYPE, REGISTRY, timed
from bot.redact import redact
from bot.settings import Settings
from bot.store.base import Store
from bot.store.redis import RedisStore

EVENTS_PATH = "/slack/events"
# Slack's payloads are a few kilobytes; anything near this is not from Slack.
MAX_BODY_BYTES = 1024 * 1024
# Outlives Bolt's 5-minute timestamp window, so a replay is refused for as long as it could pass.
REPLAY_TTL_S = 600.0
AUTH_CACHE_S = 30.0

logger = logging.getLogger(__name__)


def required(value: str | None, name: str) -> str:
    """The setting's value; ConfigError naming the variable when it is unset."""
    if not value:
        raise ConfigError(f"{name} is not set (see 'Connecting to Slack' in the README)")
    return value


class Readiness:
    """Ready when the store answers and Slack accepts the bot token; auth.test is cached."""

    def __init__(self, client: AsyncWebClient, store: Store, cache_s: float = AUTH_CACHE_S) -> None:
        self._client = client
        self._store = store
        self._cache_s = cache_s
        self._lock = asyncio.Lock()
        self._slack_problem: str | None = None
        self._checked_at: float | None = None

    async def problem(self) -> str | None:
        """None when ready, else a one-line reason without secrets."""
        try:
            await self._store.ping()
        except BotError as exc:
            return redact(f"store unavailable: {exc}")
        async with self._lock:
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at >= self._cache_s:
                self._slack_problem = await self._auth_problem()
                self._checked_at = now
            return self._slack_problem

    async def _auth_problem(self) -> str | None:
        try:
            await self._client.auth_test()
        except SlackApiError as exc:
            return f"slack auth failed: {exc.response.get('error') or exc.response.status_code}"
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return f"slack unreachable: {type(exc).__name__}"
        return None


class ReplayGuard:
    """Refuses a request signature seen before within REPLAY_TTL_S."""

    def __init__(self, shared: Store | None) -> None:
        self._shared = shared
        self._owner = f"{os.uname().nodename}:{os.getpid()}"
        self._seen: dict[str, float] = {}

    async def first_time(self, signature: str) -> bool:
        """True once per signature; StoreError when the shared store cannot say."""
        now = time.monotonic()
        # Insertion order is expiry order, since every entry lives as long.
        while self._seen and next(iter(self._seen.values())) <= now:
            self._seen.pop(next(iter(self._seen)))
        if signature in self._seen:
            return False
        self._seen[signature] = now + REPLAY_TTL_S
        if self._shared is None:
            return True
        return await self._shared.claim("slack-sig:" + signature, self._owner, REPLAY_TTL_S)


def replay_guard(store: Store) -> ReplayGuard:
    """Checks replicas' shared store too when there is one (Redis).

    The embedded store serves one process, and its claims would queue behind the engine's writes
    on its single SQLite thread, which measurably delays every ack (bench/ack_latency.py).
    """
    return ReplayGuard(store if isinstance(store, RedisStore) else None)


class SlackEvents:
    """Checks a request's signature and freshness, refuses replays, then hands it to Bolt."""

    def __init__(self, bolt: AsyncApp, store: Store, signing_secret: str) -> None:
        self._bolt = bolt
        self._replays = replay_guard(store)
        self._verifier = SignatureVerifier(signing_secret)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()  # 413 past the application's client_max_size
        if not self._signed(body, request):
            return web.Response(status=401, text="invalid request signature or timestamp")
        try:
            fresh = await self._replays.first_time(request.headers["X-Slack-Signature"])
        except BotError as exc:
            logger.warning("%s", redact(f"replay check failed: {exc}"))
            return web.Response(status=503, text="store unavailable")
        if not fresh:
            logger.warning("refused a replayed Slack request")
            return web.Response(status=401, text="replayed request")
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, TypeError, AttributeError):
            return web.Response(status=400, text="malformed request body")
        return await to_aiohttp_response(await self._bolt.async_dispatch(bolt_request))

    def _signed(self, body: bytes, request: web.Request) -> bool:
        try:
            return self._verifier.is_valid_request(body, request.headers)
        except ValueError:  # a timestamp that is not a number
            return False


def web_app(
    bolt: AsyncApp,
    engine: Engine,
    *,
    signing_secret: str | None = None,
    alerts: AlertWebhook | None = None,
    inflight: InFlight | None = None,
) -> web.Application:
    """Health, readiness and metrics; with a signing secret also `POST /slack/events` (HTTP mode),
    with an alert webhook also `POST /alerts/alertmanager`."""
    readiness = Readiness(bolt.client, engine.store)
    tracked = InFlight() if inflight is None else inflight

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        # Draining: the Service stops sending here while the work under way finishes.
        problem = "shutting down" if tracked.draining else await readiness.problem()
        if problem is None:
            return web.Response(text="ready")
        return web.Response(status=503, text=problem)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.middlewares.append(refuse_while_draining(tracked))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    if signing_secret is not None:
        events = SlackEvents(bolt, engine.store, signing_secret)
        app.router.add_post(EVENTS_PATH, timed(ACK_LATENCY, events.handle))
    if alerts is not None:
        webhook = alerts
        app.router.add_post(ALERTS_PATH, webhook.handle)

        async def finish_alerts(app: web.Application) -> None:
            await webhook.drain()

        app.on_cleanup.append(finish_alerts)
    return app


async def metrics(request: web.Request) -> web.Response:
    """The bot's own metrics for Prometheus to scrape."""
    return web.Response(body=REGISTRY.exposition().encode(), headers={"Content-Type": CONTENT_TYPE})


@asynccontextmanager
async def listening(app: web.Application, host: str, port: int) -> AsyncIterator[int]:
    """Serves `app` on host:port (0 picks a free one) until the block ends; yields the port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def until_signalled() -> None:
    """Returns on the first SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def room_reporter(ctx: SlackContext) -> Reporter:
    """Tells the incident's room when the status page or pager could not be reached."""

    async def report(incident: Incident, line: str) -> None:
        await ctx.rooms.post(incident, text_message(line))

    return report


async def serve(
    settings: Settings, config: Config, host: str, port: int, grace_s: float = SHUTDOWN_GRACE_S
) -> None:
    """Slack over HTTP until SIGTERM or SIGINT, then a clean shutdown: new requests get 503,
    work under way gets up to `grace_s` to finish, timer claims are released, the store closed."""
    required(settings.slack_bot_token, "SLACK_BOT_TOKEN")
    signing_secret = required(settings.slack_signing_secret, "SLACK_SIGNING_SECRET")
    from bot.adapters.slack.alert_sink import SlackAlertSink
    from bot.adapters.slack.app import build_slack

    inflight = InFlight()
    async with running_engine(settings, config) as engine, aiohttp.ClientSession() as session:
        slack = build_slack(engine, config, settings, session=session)
        alerts = AlertWebhook(engine, SlackAlertSink(slack.notifier.ctx))
        app = web_app(
            slack.app, engine, signing_secret=signing_secret, alerts=alerts, inflight=inflight
        )
        async with (
            Scheduler(engine, slack.notifier, owner=process_owner()),
            running_integrations(engine, room_reporter(slack.notifier.ctx)),
            listening(app, host, port) as bound,
            inflight.tracking(),
        ):
            print(f"runbook-bot: Slack over HTTP on {host}:{bound}{EVENTS_PATH}", file=sys.stderr)
            # Start-up objects live for the whole run: keep the collector from rescanning them.
            gc.freeze()
            await until_signalled()
            await inflight.drain(grace_s)
