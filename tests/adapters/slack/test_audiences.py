"""In Slack, a status update reaches only the channels its audience names, and a responder's
flag button escalates the levels that wait for it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.slack import actions
from bot.adapters.slack.factory import build_slack
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import Channels, Config, EscalationContact, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.scheduler import Scheduler
from tests.adapters.slack.conftest import ALICE, BOB, REPO, SlackBot, bot_settings
from tests.adapters.slack.test_flow import _open, _until
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_workspace import BOT_USER_ID

STATUS = "C0STATUS"
INCIDENTS = "C0GENERAL"
# The `update` message made internal, to see that it stays in the room.
INTERNAL_UPDATE = (
    "  update: {title: Status update, template: api-down/update.md.j2, audience: [internal]}"
)


def _playbooks(folder: Path) -> Path:
    text = (REPO / "playbooks" / "api-down.yml").read_text(encoding="utf-8")
    original = "  update: {title: Status update, template: api-down/update.md.j2}"
    assert original in text
    folder.mkdir()
    (folder / "api-down.yml").write_text(text.replace(original, INTERNAL_UPDATE), encoding="utf-8")
    return folder


@pytest.fixture
async def routed_bot(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async with SlackApiStandIn() as api:
        api.add_user(BOB, "bob")
        api.add_channel("status", channel_id=STATUS, members=[BOT_USER_ID])
        settings = bot_settings(api, sandbox, tmp_path, _playbooks(tmp_path / "playbooks"))
        config = Config(
            services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
            approvers=[ALICE, BOB],
            channels=Channels(incidents=INCIDENTS, status=STATUS),
            escalation={3: EscalationContact(name="CTO", notify=[BOB])},
        )
        async with running_engine(settings, config) as engine, aiohttp.ClientSession() as http:
            slack = build_slack(engine, config, settings)
            app = web_app(slack.app, engine, slack_events=True)
            async with (
                Scheduler(engine, slack.notifier, owner="test"),
                listening(app, "127.0.0.1", 0) as port,
            ):
                yield SlackBot(api, engine, sandbox, f"http://127.0.0.1:{port}/slack/events", http)


def _values(template: str, text: str) -> dict[str, Any]:
    return {
        "t": {
            actions.STATUS_TEMPLATE: {
                "type": "static_select",
                "selected_option": {"value": template},
            }
        },
        "x": {actions.STATUS_TEXT: {"type": "plain_text_input", "value": text}},
    }


async def test_each_channel_gets_only_the_updates_addressed_to_it(routed_bot: SlackBot) -> None:
    bot = routed_bot
    channel = await _open(bot)

    # `initial` is for the status page and the #incidents channel (seed 000), and the status
    # channel; `update` here is internal.
    assert (
        await bot.submit(actions.STATUS_VIEW, "INC-0001", _values("initial", "Public one")) == 200
    )
    await _until(lambda: "Public one" in bot.texts(STATUS), "the public update")
    assert "Public one" in bot.texts(INCIDENTS)
    assert "Public one" in bot.texts(channel)
    await _until(lambda: "Sent to the incident room" in bot.texts(channel), "where it went")

    assert await bot.submit(actions.STATUS_VIEW, "INC-0001", _values("update", "Internal")) == 200
    await _until(lambda: "Internal" in bot.texts(channel), "the internal update in the room")
    await _until(lambda: "_Sent to the incident room._" in bot.texts(channel), "its receipt")
    assert "Internal" not in bot.texts(STATUS)
    assert "Internal" not in bot.texts(INCIDENTS)
    stored = await bot.engine.get("INC-0001")
    assert [u.audience for u in stored.status_updates] == [
        ["internal", "incidents-channel", "status-channel", "status-page"],
        ["internal"],
    ]


async def test_a_flag_button_escalates_the_levels_waiting_for_it_on_time(
    routed_bot: SlackBot,
) -> None:
    bot = routed_bot
    channel = await _open(bot)
    flag = f"{actions.RAISE_FLAG}.security-suspected"
    await _until(lambda: bot.buttons(channel, flag), "the flag button on the headline")
    labels = [b["text"]["text"] for message in bot.api.messages(channel) for b in _buttons(message)]
    assert "Flag: Security suspected" in labels
    assert "Flag: Customer escalations" in labels

    assert await bot.click(bot.button(channel, flag), user=ALICE) == 200
    await _until(
        lambda: "raised: security suspected; escalates to level 3 (CTO)" in bot.texts(channel),
        "the flag in the room",
    )
    await _until(lambda: "time to escalate to level 3" in bot.texts(channel), "the level 3 nudge")
    assert f"<@{BOB}>" in bot.texts(channel)
    assert "(late:" not in json.dumps(
        [m for m in bot.api.messages(channel) if "time to escalate" in json.dumps(m)]
    )
    incident = await bot.engine.get("INC-0001")
    assert incident.timers.flags["security-suspected"].by
    assert [e.event for e in incident.timeline].count("flag-raised") == 1


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        for element in block.get("elements") or []
        if element.get("type") == "button"
    ]
