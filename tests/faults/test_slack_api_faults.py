"""Faults of the Slack Web API under the real HTTP endpoint: 429, 500, an HTML body, a dropped
connection. Each time the ack lands within Slack's deadline, nothing the responder did is lost
or done twice, they are told what happened, and the bot keeps serving."""

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
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_faults import Fault, SlackFaults

pytestmark = pytest.mark.slow

SLACK_ACK_DEADLINE_S = 3.0
COMMANDER_POST = "is now incident commander"


@pytest.fixture
async def faulty(tmp_path: Path) -> AsyncIterator[tuple[SlackBot, SlackFaults]]:
    with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sandbox:
        async with SlackApiStandIn() as api, SlackFaults(api.url) as faults:
            api.add_user(BOB, "bob")
            settings = dataclasses.replace(
                bot_settings(api, sandbox, tmp_path), slack_api_url=faults.url
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
                    yield SlackBot(api, engine, sandbox, url, session), faults


async def _open(bot: SlackBot) -> str:
    ack = await bot.command("api-down ecap-api the API answers 503")
    assert "Opening" in str(ack["text"])
    await bot.api.wait_for("response_url", lambda c: "Opened INC-" in str(c.params.get("text")))
    return str((await bot.engine.get("INC-0001")).links["slack.channel"])


def _told(bot: SlackBot) -> list[str]:
    return [
        str(c.params.get("text", ""))
        for c in [*bot.api.calls_to("response_url"), *bot.api.calls_to("chat.postEphemeral")]
        if ":warning:" in str(c.params.get("text", ""))
    ]


async def _commander(bot: SlackBot) -> str:
    """The commander's user id (the store keeps the name Slack sent, here the id lowercased)."""
    return str((await bot.engine.get("INC-0001")).commander).upper()


def _commander_posts(bot: SlackBot, channel: str) -> int:
    return sum(COMMANDER_POST in json.dumps(m) for m in bot.api.messages(channel))


async def test_rate_limits_are_waited_out_three_times_then_reported(
    faulty: tuple[SlackBot, SlackFaults],
) -> None:
    bot, _ = faulty
    bot.api.rate_limit("conversations.create", times=2, retry_after=1)
    started = time.monotonic()
    channel = await _open(bot)
    # Retry-After honoured: two 1-second waits before the third try succeeded.
    assert time.monotonic() - started >= 2.0
    creates = bot.api.calls_to("conversations.create")
    assert [c.status for c in creates] == [429, 429, 200]
    assert sum("Run diagnostics" in json.dumps(m) for m in bot.api.messages(channel)) == 1

    # Past three retries the responder hears about it in one line, and the bot still serves.
    commander = bot.button(channel, actions.COMMANDER)
    bot.api.rate_limit("chat.postMessage", times=4, retry_after=1)
    assert await bot.click(commander, user=BOB, channel=channel) == 200
    await _eventually(lambda: len(_told(bot)) == 1, "the rate-limit line")
    assert "\n" not in _told(bot)[0]
    assert await _commander(bot) == BOB, "the claim itself is kept"
    limited = [c for c in bot.api.calls_to("chat.postMessage") if c.status == 429]
    assert len(limited) == 4, "one try and three retries, no more"
    assert "No open incidents" not in json.dumps(await bot.command("list"))


@pytest.mark.parametrize("fault", ["500", "html"])
async def test_an_error_answer_is_reported_once_and_not_retried(
    faulty: tuple[SlackBot, SlackFaults], fault: Fault
) -> None:
    bot, faults = faulty
    channel = await _open(bot)
    commander = bot.button(channel, actions.COMMANDER)
    faults.fail("chat.postMessage", fault)

    started = time.monotonic()
    assert await bot.click(commander, user=BOB, channel=channel) == 200
    assert time.monotonic() - started < SLACK_ACK_DEADLINE_S
    await _eventually(lambda: len(_told(bot)) == 1, "the one-line failure")
    assert "\n" not in _told(bot)[0]
    assert faults.injected == [("chat.postMessage", fault)]
    # Nothing lost (the claim stands), nothing done twice (the failed post was not resent).
    assert await _commander(bot) == BOB
    assert _commander_posts(bot, channel) == 0

    # Still serving: the next click goes through and is posted once.
    assert await bot.click(commander, user=ALICE, channel=channel) == 200
    await _eventually(lambda: _commander_posts(bot, channel) == 1, "the next commander post")
    assert await _commander(bot) == ALICE


async def test_a_dropped_connection_keeps_the_bot_serving(
    faulty: tuple[SlackBot, SlackFaults],
) -> None:
    bot, faults = faulty
    channel = await _open(bot)
    commander = bot.button(channel, actions.COMMANDER)
    faults.fail("chat.postMessage", "drop")

    started = time.monotonic()
    assert await bot.click(commander, user=BOB, channel=channel) == 200
    assert time.monotonic() - started < SLACK_ACK_DEADLINE_S
    # The dropped call never reached Slack, so its retry is the one post.
    await _eventually(lambda: _commander_posts(bot, channel) == 1, "the retried post")
    assert faults.injected == [("chat.postMessage", "drop")]
    assert await _commander(bot) == BOB
    assert "INC-0001" in json.dumps(await bot.command("list"))


async def _eventually(condition: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
