"""Faults of a real Redis store under the real HTTP endpoint: frozen (SIGSTOP) and stopped.

Every signed request still gets its 200 within Slack's 3-second deadline, the sender is told in
one line that the store is not answering, nothing is half-written, and the bot serves again once
the store is back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.slack import actions
from bot.adapters.slack.factory import build_slack
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import Channels, Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from tests.adapters.slack.conftest import ALICE, BOB, SlackBot, bot_settings
from tests.support.redis_server import RedisServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import slash_command_body

pytestmark = pytest.mark.slow

# Slack's contract for an ack, not a performance figure.
SLACK_ACK_DEADLINE_S = 3.0
STORE_DOWN = "the incident store is not answering"


@pytest.fixture
async def redis_bot(tmp_path: Path) -> AsyncIterator[tuple[SlackBot, RedisServer]]:
    server = RedisServer()
    server.start()
    try:
        with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sandbox:
            async with SlackApiStandIn() as api:
                api.add_user(BOB, "bob")
                settings = dataclasses.replace(
                    bot_settings(api, sandbox, tmp_path), redis_url=server.url
                )
                config = Config(
                    services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
                    approvers=[ALICE, BOB],
                    channels=Channels(incidents="C0GENERAL"),
                )
                async with running_engine(settings, config) as engine:
                    bolt = build_slack(engine, config, settings).app
                    app = web_app(bolt, engine, slack_events=True)
                    async with (
                        listening(app, "127.0.0.1", 0) as port,
                        aiohttp.ClientSession() as session,
                    ):
                        url = f"http://127.0.0.1:{port}/slack/events"
                        yield SlackBot(api, engine, sandbox, url, session), server
    finally:
        server.stop()


async def _timed_command(bot: SlackBot, text: str) -> tuple[float, int, dict[str, object]]:
    body = slash_command_body(
        response_url=bot.api.response_url("C0GENERAL"), text=text, user_id=ALICE
    )
    started = time.monotonic()
    response = await bot.send(body)
    elapsed = time.monotonic() - started
    raw = (await response.text()) if response.content_length else ""
    return elapsed, response.status, json.loads(raw) if raw else {}


async def _open(bot: SlackBot) -> str:
    ack = await bot.command("api-down ecap-api the API answers 503")
    assert "Opening" in str(ack["text"])
    created = await bot.api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    await bot.api.wait_for("response_url", lambda c: "Opened INC-" in str(c.params.get("text")))
    await asyncio.sleep(0.5)
    return channel


def _told(bot: SlackBot, words: str) -> int:
    return sum(words in str(c.params.get("text", "")) for c in bot.api.calls_to("response_url"))


async def _until(condition: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_frozen_store_acks_in_time_tells_the_user_and_recovers(
    redis_bot: tuple[SlackBot, RedisServer],
) -> None:
    bot, server = redis_bot
    channel = await _open(bot)
    commander = bot.button(channel, actions.COMMANDER)
    posts_before = len(bot.api.calls_to("chat.postMessage"))

    server.freeze()
    try:
        elapsed, status, ack = await _timed_command(bot, "api-down ecap-api second outage")
        assert status == 200
        assert elapsed < SLACK_ACK_DEADLINE_S, f"slash command acked after {elapsed:.2f}s"
        assert STORE_DOWN in str(ack["text"]) and "\n" not in str(ack["text"])

        started = time.monotonic()
        assert await bot.click(commander, user=BOB, channel=channel) == 200
        elapsed = time.monotonic() - started
        assert elapsed < SLACK_ACK_DEADLINE_S, f"click acked after {elapsed:.2f}s"
        await _until(lambda: _told(bot, STORE_DOWN) >= 1, "the click's store-down line")
    finally:
        server.thaw()

    # Nothing half-written: no second incident, no commander, nothing posted for either request.
    await asyncio.sleep(0.5)
    incidents = await bot.engine.list_incidents()
    assert [i.id for i in incidents] == ["INC-0001"]
    assert incidents[0].commander is None
    assert len(bot.api.calls_to("chat.postMessage")) == posts_before
    assert _told(bot, STORE_DOWN) == 1, [c.params for c in bot.api.calls_to("response_url")]

    # Served again after SIGCONT: the same click (fresh signature) now claims commander.
    assert await bot.click(commander, user=BOB, channel=channel) == 200
    await bot.api.wait_for(
        "chat.postMessage", lambda c: "is now incident commander" in json.dumps(c.params)
    )
    assert (await bot.engine.get("INC-0001")).commander is not None
    listed = json.dumps(await bot.command("list"))
    assert "INC-0001" in listed


async def test_stopped_store_answers_one_line_and_readyz_says_why(
    redis_bot: tuple[SlackBot, RedisServer],
) -> None:
    bot, server = redis_bot
    await _open(bot)
    readyz = bot.url.replace("/slack/events", "/readyz")
    server.stop()

    elapsed, status, ack = await _timed_command(bot, "api-down ecap-api second outage")
    assert status == 200 and elapsed < SLACK_ACK_DEADLINE_S
    assert STORE_DOWN in str(ack["text"]) and "\n" not in str(ack["text"])
    async with bot.session.get(readyz) as response:
        reason = await response.text()
        assert response.status == 503
    assert reason.startswith("store unavailable: ") and "\n" not in reason
