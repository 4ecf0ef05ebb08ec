"""The process's HTTP app, for both Slack transports: `/healthz`, `/readyz`, `/metrics`, the
Alertmanager webhook and, over HTTP, `POST /slack/events`; serving it until a signal."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.alerts import ALERTS_PATH, AlertWebhook
from bot.adapters.inflight import InFlight, refuse_while_draining
from bot.adapters.slack.api_errors import api_error
from bot.adapters.slack.transport.http import EVENTS_PATH, events_handler
from bot.engine.engine import Engine
from bot.errors import BotError
from bot.metrics import ACK_LATENCY, CONTENT_TYPE, REGISTRY, timed
from bot.redact import redact
from bot.store.base import Store

# Slack's payloads are a few kilobytes; anything near this is not from Slack.
MAX_BODY_BYTES = 1024 * 1024
AUTH_CACHE_S = 30.0


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
            return f"slack auth failed: {api_error(exc)}"
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return f"slack unreachable: {type(exc).__name__}"
        return None


def web_app(
    bolt: AsyncApp,
    engine: Engine,
    *,
    slack_events: bool = False,
    alerts: AlertWebhook | None = None,
    inflight: InFlight | None = None,
) -> web.Application:
    """Health, readiness and metrics; with `slack_events` also `POST /slack/events` (HTTP mode),
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
    if slack_events:
        app.router.add_post(EVENTS_PATH, timed(ACK_LATENCY, events_handler(bolt)))
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
