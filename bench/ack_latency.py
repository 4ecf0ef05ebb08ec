"""Ack latency of `POST /slack/events`: the product's Bolt app against a bare app that only acks.

Sends signed slash commands and button clicks (200 each by default), 50 at a time, to each app
behind the same server wiring (signature check, replay claim, body cap), and prints p50 and p99 of
both and the p99 ratio (goal < 1.5). The product opens a real incident per command against the
sandbox cluster and claims commander per click, all after its ack. The Slack Web API stand-in and
the load generator run on their own thread and event loop, so each app has a loop to itself.

    .venv/bin/python bench/ack_latency.py [--requests 200] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiohttp
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.adapters.slack.app import build_slack_app
from bot.adapters.slack.client import web_client
from bot.adapters.slack.server import listening, web_app
from bot.app import running_engine
from bot.config import Channels, Config, ServiceBinding
from bot.engine.engine import Engine
from bot.sandbox import Sandbox
from bot.settings import Settings
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import (
    FORM_CONTENT_TYPE,
    block_action_body,
    sign,
    slash_command_body,
)

SECRET = "bench-signing-secret"
USER = "U0ALICE"
CHANNEL = "C0GENERAL"
COMMANDER = "rb.commander"
REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def bench_settings(api: SlackApiStandIn, folder: Path, kubeconfig: str | None) -> Settings:
    return dataclasses.replace(
        Settings.from_env({}),
        slack_bot_token=api.bot_token,
        slack_signing_secret=SECRET,
        slack_api_url=api.url,
        kubeconfig=kubeconfig,
        redis_url=None,
        state_path=folder / "state.db",
        playbooks_dir=REPO / "playbooks",
        templates_dir=REPO / "templates",
    )


@asynccontextmanager
async def bare_app(api: SlackApiStandIn, folder: Path) -> AsyncIterator[tuple[AsyncApp, Engine]]:
    """The baseline: a Bolt app whose every listener only acks, over an engine for the server."""
    settings = bench_settings(api, folder, None)
    async with running_engine(settings, Config()) as engine:
        app = AsyncApp(client=web_client(settings), signing_secret=SECRET)

        async def ack_only(ack: AsyncAck) -> None:
            await ack()

        app.command("/incident")(ack_only)
        app.action(re.compile(".*"))(ack_only)
        yield app, engine


@asynccontextmanager
async def product_app(
    api: SlackApiStandIn, folder: Path, sandbox: Sandbox
) -> AsyncIterator[tuple[AsyncApp, Engine]]:
    """The product's Bolt app over a sandbox-backed engine."""

    kubeconfig = str(sandbox.write_kubeconfig(folder / "kubeconfig"))
    settings = bench_settings(api, folder, kubeconfig)
    config = Config(
        services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
        approvers=[USER],
        channels=Channels(incidents=CHANNEL),
    )
    async with running_engine(settings, config) as engine:
        yield build_slack_app(engine, config, settings), engine


class Background(threading.Thread, Generic[T]):
    """Runs an async context manager on its own thread and event loop, so loads do not mix."""

    def __init__(self, factory: Callable[[], AbstractAsyncContextManager[T]]) -> None:
        super().__init__(daemon=True)
        self._factory = factory
        self._held = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self._value: T | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._hold())
        except BaseException as exc:
            self._error = exc
        finally:
            self._held.set()

    async def _hold(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        async with self._factory() as value:
            self._value = value
            self._held.set()
            await self._release.wait()

    async def __aenter__(self) -> T:
        self.start()
        await asyncio.to_thread(self._held.wait)
        if self._value is None:
            sys.exit(f"could not start: {self._error}")
        return self._value

    async def __aexit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)
        await asyncio.to_thread(self.join)


@asynccontextmanager
async def serving(app: AbstractAsyncContextManager[tuple[AsyncApp, Engine]]) -> AsyncIterator[str]:
    """The app behind the real server wiring; yields its events URL."""
    async with app as (bolt, engine):
        server = web_app(bolt, engine, signing_secret=SECRET)
        async with listening(server, "127.0.0.1", 0) as port:
            yield f"http://127.0.0.1:{port}/slack/events"


async def timed_post(session: aiohttp.ClientSession, url: str, body: bytes) -> float:
    headers = {**sign(body, SECRET), "Content-Type": FORM_CONTENT_TYPE}
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            sys.exit(f"a request was refused ({response.status}), the benchmark is void")
    return elapsed


async def measure(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int
) -> list[float]:
    """Sends the bodies in waves of `concurrency`; returns each request's time to the ack."""
    latencies: list[float] = []
    for start in range(0, len(bodies), concurrency):
        wave = bodies[start : start + concurrency]
        latencies += await asyncio.gather(*(timed_post(session, url, b) for b in wave))
    return latencies


def commands(api: SlackApiStandIn, count: int) -> list[bytes]:
    return [
        slash_command_body(
            response_url=api.response_url(CHANNEL),
            text=f"api-down ecap-api bench {n}",
            user_id=USER,
            channel_id=CHANNEL,
        )
        for n in range(count)
    ]


def clicks(api: SlackApiStandIn, button: dict[str, Any], count: int) -> list[bytes]:
    return [
        block_action_body(
            action_id=COMMANDER,
            value=button["value"],
            response_url=api.response_url(button["channel"]),
            user_id=USER,
            channel_id=button["channel"],
            message_ts=button["ts"],
        )
        for _ in range(count)
    ]


def commander_button(api: SlackApiStandIn) -> dict[str, Any] | None:
    """The claim-commander button of the first incident the product posted, if there is one."""
    for call in api.calls_to("chat.postMessage"):
        for block in call.response.get("message", {}).get("blocks") or []:
            for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
                if element.get("action_id") == COMMANDER:
                    return {
                        "value": element["value"],
                        "channel": call.response["channel"],
                        "ts": call.response["ts"],
                    }
    return None


async def open_first_incident(
    session: aiohttp.ClientSession, url: str, api: SlackApiStandIn
) -> dict[str, Any]:
    """Opens one incident (also the warm-up) and returns its claim-commander button."""
    [body] = commands(api, 1)
    await timed_post(session, url, body)
    for _ in range(600):  # bounds a hang on a loaded box
        button = commander_button(api)
        if button is not None:
            return button
        await asyncio.sleep(0.1)
    sys.exit("the product never posted a claim-commander button")


async def settle(api: SlackApiStandIn) -> None:
    """Waits until the app's after-ack work has stopped calling Slack, so none is cut off."""
    seen = -1
    for _ in range(120):
        if len(api.calls) == seen:
            return
        seen = len(api.calls)
        await asyncio.sleep(0.5)


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[98]


def summary(samples: list[float]) -> str:
    p50, p99 = percentiles(samples)
    return f"p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms"


async def run_one(
    name: str, app: Callable[[], AbstractAsyncContextManager[tuple[AsyncApp, Engine]]],
    api: SlackApiStandIn, requests: int, concurrency: int, warm_up_with_incident: bool,
) -> list[float]:  # fmt: skip
    async with Background(lambda: serving(app())) as url, aiohttp.ClientSession() as session:
        if warm_up_with_incident:
            button = await open_first_incident(session, url, api)
        else:
            button = {"value": '{"i":"INC-0001"}', "channel": CHANNEL, "ts": ""}
            await measure(session, url, commands(api, concurrency), concurrency)
        by_command = await measure(session, url, commands(api, requests), concurrency)
        by_click = await measure(session, url, clicks(api, button, requests), concurrency)
        await settle(api)
    print(f"  {name:<9} {summary(by_command + by_click)}")
    print(f"    commands {summary(by_command)}   clicks {summary(by_click)}")
    return by_command + by_click


async def main(requests: int, concurrency: int) -> None:
    print(
        f"ack latency: {requests} slash commands + {requests} button clicks, "
        f"{concurrency} at a time, signed, over HTTP to /slack/events"
    )
    with tempfile.TemporaryDirectory() as tmp, Sandbox.start(ready_delay=0.0) as sandbox:
        folder = Path(tmp)
        (folder / "bare").mkdir()
        (folder / "product").mkdir()
        async with Background(SlackApiStandIn) as api:
            bare = await run_one(
                "bare Bolt", lambda: bare_app(api, folder / "bare"),
                api, requests, concurrency, False,
            )  # fmt: skip
            product = await run_one(
                "product", lambda: product_app(api, folder / "product", sandbox),
                api, requests, concurrency, True,
            )  # fmt: skip
    ratio = percentiles(product)[1] / percentiles(bare)[1]
    print(f"  p99 ratio product/bare: {ratio:5.2f}   (goal < 1.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="commands, and as many clicks")
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
