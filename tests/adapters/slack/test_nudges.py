"""Escalation nudges and status reminders in Slack, on a playbook whose timers are seconds."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.slack import actions
from bot.adapters.slack.factory import build_slack
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import Channels, Config, EscalationContact, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.incident import Actor
from bot.engine.scheduler import Scheduler
from tests.adapters.slack.conftest import ALICE, BOB, REPO, SlackBot, bot_settings
from tests.adapters.slack.test_flow import _open
from tests.support.slack_api import SlackApiStandIn


def _fast_playbooks(folder: Path) -> Path:
    """api-down with escalation at 2 s and 4 s and a reminder every 3 s: durations are data."""
    text = (REPO / "playbooks" / "api-down.yml").read_text(encoding="utf-8")
    text = text.replace("after: 15m", "after: 2s").replace("after: 30m", "after: 4s")
    text = re.sub(r"(?m)^status_update_interval: 15m$", "status_update_interval: 3s", text)
    folder.mkdir()
    (folder / "api-down.yml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
async def timed_bot(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async with SlackApiStandIn() as api:
        api.add_user(BOB, "bob")
        settings = bot_settings(api, sandbox, tmp_path, _fast_playbooks(tmp_path / "playbooks"))
        config = Config(
            services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
            approvers=[ALICE, BOB],
            channels=Channels(incidents="C0GENERAL"),
            escalation={
                2: EscalationContact(name="Engineering Manager", notify=[BOB]),
                3: EscalationContact(name="CTO", notify=["S0LEADS"]),
            },
        )
        async with running_engine(settings, config) as engine, aiohttp.ClientSession() as http:
            slack = build_slack(engine, config, settings)
            app = web_app(slack.app, engine, slack_events=True)
            async with (
                Scheduler(engine, slack.notifier, owner="test"),
                listening(app, "127.0.0.1", 0) as port,
            ):
                url = f"http://127.0.0.1:{port}/slack/events"
                yield SlackBot(api, engine, sandbox, url, http)


async def _until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _posted(bot: SlackBot, channel: str, words: str) -> int:
    return sum(words in json.dumps(m) for m in bot.api.messages(channel))


async def test_nudges_mention_each_level_and_buttons_act(timed_bot: SlackBot) -> None:
    bot = timed_bot
    channel = await _open(bot)
    await _until(lambda: _posted(bot, channel, "escalate to level 2"), "the level 2 nudge")
    assert _posted(bot, channel, f"<@{BOB}>")
    on_it = bot.button(channel, actions.ON_IT)
    assert json.loads(on_it["value"])["l"] == 2
    await bot.click(on_it, user=ALICE)
    await _until(lambda: _posted(bot, channel, "escalate to level 3"), "the level 3 nudge")
    assert _posted(bot, channel, "<!subteam^S0LEADS>")
    await _until(lambda: _posted(bot, channel, "has had no status update yet"), "the reminder")

    incident = await bot.engine.get("INC-0001")
    assert 2 in incident.timers.acknowledged
    events = [e.event for e in incident.timeline]
    assert events.index("escalation-acknowledged") > 0

    # Escalate now records it and mentions the level's contacts.
    escalate = [b for b in bot.buttons(channel, actions.ESCALATE_NOW) if '"l":3' in b["value"]][-1]
    await bot.click(escalate, user=ALICE)
    await _until(lambda: _posted(bot, channel, "escalated INC-0001 to level 3"), "the escalation")
    assert 3 in (await bot.engine.get("INC-0001")).timers.escalated

    # Each nudge is posted once, however often the scheduler re-arms.
    await asyncio.sleep(1.0)
    assert _posted(bot, channel, "time to escalate to level 2") == 1
    assert _posted(bot, channel, "time to escalate to level 3") == 1


async def test_mute_stops_reminders_and_resolve_stops_everything(timed_bot: SlackBot) -> None:
    bot = timed_bot
    channel = await _open(bot)
    await _until(lambda: bot.buttons(channel, actions.MUTE_REMINDERS), "the first reminder")
    await bot.click(bot.button(channel, actions.MUTE_REMINDERS), user=ALICE)
    await _until(lambda: _posted(bot, channel, "muted status-update reminders"), "the mute")
    reminders = _posted(bot, channel, "Time for the next one")
    await asyncio.sleep(3.5)
    assert _posted(bot, channel, "Time for the next one") == reminders, "muted"

    await bot.engine.resolve("INC-0001", Actor(id=ALICE))
    nudges = _posted(bot, channel, "time to escalate")
    await asyncio.sleep(4.5)
    assert _posted(bot, channel, "time to escalate") == nudges, "nothing fires after resolve"
