"""The ack-latency baseline: `runbook-bot serve` with a Bolt app whose every listener only acks.

Same settings from the environment, engine, server wiring and shutdown as `serve`; only the
listeners differ. Run by bench/ack_latency.py in its own process:

    .venv/bin/python bench/bare_app.py --host 127.0.0.1 --port 0
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import re
import sys

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.adapters.slack.factory import bolt_app, slack_tokens
from bot.adapters.slack.transport.http import EVENTS_PATH
from bot.adapters.web import listening, until_signalled, web_app
from bot.app import running_engine
from bot.config import load_config
from bot.settings import Settings


async def ack_only(ack: AsyncAck) -> None:
    await ack()


async def serve_bare(settings: Settings, host: str, port: int) -> None:
    """Serves the ack-only app until SIGTERM or SIGINT, announcing the port as `serve` does."""
    tokens = slack_tokens(settings)
    config = load_config(settings.config_path)
    async with running_engine(settings, config) as engine, aiohttp.ClientSession() as session:
        bolt = bolt_app(settings, tokens, engine.store, session)
        bolt.command("/incident")(ack_only)
        bolt.action(re.compile(".*"))(ack_only)
        app = web_app(bolt, engine, slack_events=True)
        async with listening(app, host, port) as bound:
            print(f"runbook-bot: Slack over HTTP on {host}:{bound}{EVENTS_PATH}", file=sys.stderr)
            gc.freeze()  # as `serve` does
            await until_signalled()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(serve_bare(Settings.from_env(), args.host, args.port))
