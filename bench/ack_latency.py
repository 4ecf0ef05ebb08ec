"""Ack latency of `POST /slack/events`: the product's Bolt app against a bare app that only acks.

Sends signed slash commands and button clicks (200 each by default), 50 at a time, to each app
and prints p50 and p99 of both and the p99 ratio (goal < 1.5). Each app runs in its own process
behind the same server wiring (signature check, replay claim, body cap): the product as
`runbook-bot serve`, the baseline as bench/bare_app.py. The product opens a real incident per
command against the sandbox cluster and claims commander per click, all after its ack. This
process holds the Slack Web API stand-in, the sandbox and the load generator, so their work does
not compete with the app under test for its interpreter. `--profile FILE` runs the product
under cProfile and writes its stats there.

    .venv/bin/python bench/ack_latency.py [--requests 200] [--concurrency 50] [--profile FILE]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.table import Figure, add_json_option, write_figures
from bot.drills.kubernetes import Sandbox
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
VENV_BIN = REPO / ".venv" / "bin"
BOT_VARIABLES = ("SLACK_", "RUNBOOK_BOT_", "REDIS_URL", "KUBECONFIG", "DOCKER_HOST")
LISTENING = re.compile(r"Slack over HTTP on [^:\s]+:(\d+)")
BENCHMARK = "ack latency"


def server_env(api: SlackApiStandIn, sandbox: Sandbox, folder: Path) -> dict[str, str]:
    """This process's environment without the bot's settings, plus the bench's (same for both)."""
    config = {
        "services": {sandbox.service_name: sandbox.binding()},
        "approvers": [USER],
        "channels": {"incidents": CHANNEL},
    }
    config_path = folder / "runbook-bot.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(BOT_VARIABLES)}
    env.update(
        PYTHONUNBUFFERED="1",
        SLACK_BOT_TOKEN=api.bot_token,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api.url,
        RUNBOOK_BOT_CONFIG=str(config_path),
        KUBECONFIG=str(sandbox.write_kubeconfig(folder / "kubeconfig")),
        RUNBOOK_BOT_STATE=str(folder / "state.db"),
        RUNBOOK_BOT_PLAYBOOKS=str(REPO / "playbooks"),
        RUNBOOK_BOT_TEMPLATES=str(REPO / "templates"),
    )
    return env


def bare_command() -> list[str]:
    return [str(VENV_BIN / "python"), str(REPO / "bench" / "bare_app.py")]


def product_command(profile: Path | None) -> list[str]:
    if profile is None:
        return [str(VENV_BIN / "runbook-bot"), "serve"]
    # Same entry point as the runbook-bot script; stats are written on the clean SIGTERM exit.
    python = str(VENV_BIN / "python")
    return [python, "-m", "cProfile", "-o", str(profile), "-m", "bot.cli", "serve"]


def log_text(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


async def listening_port(process: asyncio.subprocess.Process, log: Path) -> int:
    """The port the server announces on stderr; exits the bench if it dies or never does."""
    for _ in range(600):  # bounds a hang on a loaded box
        found = LISTENING.search(log_text(log))
        if found:
            return int(found.group(1))
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    sys.exit(f"the server did not start:\n{log_text(log)}")


async def healthy(session: aiohttp.ClientSession, origin: str) -> None:
    """Waits until /healthz answers ok."""
    for _ in range(300):
        try:
            async with session.get(f"{origin}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    sys.exit(f"{origin}/healthz never answered")


@asynccontextmanager
async def server(
    argv: list[str], env: dict[str, str], folder: Path, session: aiohttp.ClientSession
) -> AsyncIterator[str]:
    """The app under test in its own process until the block ends; yields its events URL."""
    async with server_process(argv, env, folder, session) as (url, _):
        yield url


@asynccontextmanager
async def server_process(
    argv: list[str], env: dict[str, str], folder: Path, session: aiohttp.ClientSession
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`server`, also yielding the process (bench/memory.py reads its /proc entry)."""
    log = folder / "server.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *argv, "--host", "127.0.0.1", "--port", "0",
            env=env, cwd=folder, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        origin = f"http://127.0.0.1:{await listening_port(process, log)}"
        await healthy(session, origin)
        yield f"{origin}/slack/events", process
    finally:
        await stopped(process, log)


async def stopped(process: asyncio.subprocess.Process, log: Path) -> None:
    """SIGTERM and a clean exit; SIGKILL if it hangs. Says so when the exit was not clean."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        tail = log_text(log)[-2000:]
        print(f"  warning: the server exited with {process.returncode}:\n{tail}", file=sys.stderr)


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


def commands(api: SlackApiStandIn, service: str, count: int) -> list[bytes]:
    return [
        slash_command_body(
            response_url=api.response_url(CHANNEL),
            text=f"api-down {service} bench {n}",
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


async def first_button(
    session: aiohttp.ClientSession, url: str, api: SlackApiStandIn, service: str, product: bool
) -> dict[str, Any]:
    """Sends one command; the product's incident gives the button to click, the bare app a dummy."""
    await measure(session, url, commands(api, service, 1), 1)
    if not product:
        return {"value": '{"i":"INC-0001"}', "channel": CHANNEL, "ts": ""}
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
    name: str, argv: list[str], env: dict[str, str], folder: Path, api: SlackApiStandIn,
    service: str, requests: int, concurrency: int, product: bool,
) -> list[float]:  # fmt: skip
    """Warms the app up with one wave, lets it settle, then measures commands and then clicks."""
    async with aiohttp.ClientSession() as session, server(argv, env, folder, session) as url:
        button = await first_button(session, url, api, service, product)
        # A full wave, so the measured waves find every connection already open.
        half = concurrency // 2
        warm_up = commands(api, service, half) + clicks(api, button, concurrency - half)
        await measure(session, url, warm_up, concurrency)
        await settle(api)
        by_command = await measure(session, url, commands(api, service, requests), concurrency)
        by_click = await measure(session, url, clicks(api, button, requests), concurrency)
        await settle(api)
    print(f"  {name:<9} {summary(by_command + by_click)}")
    print(f"    commands {summary(by_command)}   clicks {summary(by_click)}")
    return by_command + by_click


async def main(requests: int, concurrency: int, profile: Path | None) -> list[Figure]:
    print(
        f"ack latency: {requests} slash commands + {requests} button clicks, "
        f"{concurrency} at a time, signed, over HTTP to /slack/events, each app in its own process"
    )
    with tempfile.TemporaryDirectory() as tmp, Sandbox.start(ready_delay=0.0) as sandbox:
        bare_dir, product_dir = Path(tmp) / "bare", Path(tmp) / "product"
        bare_dir.mkdir()
        product_dir.mkdir()
        service = sandbox.service_name
        async with SlackApiStandIn() as api:
            bare = await run_one(
                "bare Bolt", bare_command(), server_env(api, sandbox, bare_dir), bare_dir,
                api, service, requests, concurrency, False,
            )  # fmt: skip
            product = await run_one(
                "product", product_command(profile), server_env(api, sandbox, product_dir),
                product_dir, api, service, requests, concurrency, True,
            )  # fmt: skip
    ratio = percentiles(product)[1] / percentiles(bare)[1]
    print(f"  p99 ratio product/bare: {ratio:5.2f}   (goal < 1.5)")
    headline = Figure(
        BENCHMARK, "ack p99, product / bare Bolt app", percentiles(product)[1] * 1000, "ms",
        baseline=percentiles(bare)[1] * 1000, goal_below=1.5, goal_on="ratio",
    )  # fmt: skip
    return [headline]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="commands, and as many clicks")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--profile", type=Path, help="write the product's cProfile stats here")
    add_json_option(parser)
    args = parser.parse_args()
    profile = args.profile.resolve() if args.profile else None
    write_figures(args.json, asyncio.run(main(args.requests, args.concurrency, profile)))
