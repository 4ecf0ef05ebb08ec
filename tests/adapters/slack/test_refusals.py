"""Bad input and refused people in Slack: each gets a clean answer and the bot goes on serving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import urlencode

from bot.adapters.slack import actions
from bot.adapters.slack.actions import ButtonValue
from bot.config import Channels
from tests.adapters.slack.conftest import ALICE, BOB, SlackBot
from tests.adapters.slack.test_flow import _open, _told
from tests.support.slack_signing import block_action_payload


async def _until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_unknown_playbook_and_service_list_the_valid_ones(slack_bot: SlackBot) -> None:
    ack = await slack_bot.command("db-melted ecap-api")
    assert "no playbook 'db-melted'" in ack["text"] and "api-down" in json.dumps(ack)
    ack = await slack_bot.command("api-down nosuch-svc")
    assert "no service 'nosuch-svc'" in ack["text"] and "ecap-api" in json.dumps(ack)
    assert not slack_bot.api.calls_to("conversations.create")


async def test_help_list_and_overlong_text(slack_bot: SlackBot) -> None:
    assert "/incident" in json.dumps(await slack_bot.command("help"))
    assert "No open incidents" in json.dumps(await slack_bot.command("list"))
    ack = await slack_bot.command("api-down ecap-api " + "x" * 10_000)
    assert "keep it under" in ack["text"]
    assert not slack_bot.api.calls_to("conversations.create")
    # Still serving.
    assert "/incident" in json.dumps(await slack_bot.command("help"))


async def test_mentions_in_the_summary_are_escaped(slack_bot: SlackBot) -> None:
    await slack_bot.command("api-down ecap-api <!channel> @here see <http://evil.example|this>")
    await slack_bot.api.wait_for("conversations.create")
    await _until(lambda: "INC-0001" in slack_bot.texts("C0GENERAL"), "the announcement")
    posted = slack_bot.texts("C0GENERAL")
    assert "<!channel>" not in posted and "<http://evil.example|this>" not in posted
    assert "&lt;!channel&gt;" in posted


async def test_destructive_fix_needs_a_second_approver(slack_bot: SlackBot) -> None:
    bot = slack_bot
    channel = await _open(bot)
    # stop-traffic (destructive) sits in a later stage: request it through a button value
    # the way a root-cause or stage message carries it.
    request = {
        "action_id": actions.REQUEST_FIX,
        "value": ButtonValue("INC-0001", step="stop-traffic").encode(),
        "_channel": channel,
    }
    await bot.click(request, user=ALICE)
    await _until(lambda: bot.buttons(channel, actions.APPROVE), "the approval request")
    approve = bot.button(channel, actions.APPROVE)
    await bot.click(approve, user=ALICE)
    await _until(lambda: _told(bot, "needs an approver other than the requester"), "the refusal")
    assert (await bot.engine.get("INC-0001")).approvals["A1"].state == "pending"
    await bot.click(approve, user=BOB)
    for _ in range(400):
        approval = (await bot.engine.get("INC-0001")).approvals["A1"]
        if approval.state not in ("pending", "approved", "applying"):
            break
        await asyncio.sleep(0.05)
    assert approval.state == "applied" and approval.decided_by and approval.decided_by.id == BOB


async def test_unknown_action_and_malformed_value(slack_bot: SlackBot) -> None:
    channel = await _open(slack_bot)
    await slack_bot.click({"action_id": "rb.nope", "value": "{}", "_channel": channel})
    await _until(lambda: _told(slack_bot, "not one of mine"), "the unknown-button notice")
    await slack_bot.click(
        {"action_id": actions.RUN_STAGE, "value": "not json", "_channel": channel}
    )
    await _until(lambda: _told(slack_bot, "button's data is not valid"), "the bad-value notice")
    # A stage button from a stage that has passed.
    stale = {
        "action_id": actions.RUN_STAGE,
        "value": ButtonValue("INC-0001", stage=3).encode(),
        "_channel": channel,
    }
    await slack_bot.click(stale)
    await _until(lambda: _told(slack_bot, "that stage has passed"), "the stale-stage notice")


async def test_thread_mode_keeps_the_incident_in_a_thread(slack_bot: SlackBot) -> None:
    ctx_config = slack_bot.engine.config
    ctx_config.channels = Channels(incidents="C0GENERAL", mode="thread")
    await slack_bot.command("api-down ecap-api")
    await _until(lambda: slack_bot.api.calls_to("pins.add"), "the pinned headline")
    assert not slack_bot.api.calls_to("conversations.create")
    incident = await slack_bot.engine.get("INC-0001")
    assert incident.links["slack.channel"] == "C0GENERAL"
    thread = incident.links["slack.thread_ts"]
    replies = [m for m in slack_bot.api.messages("C0GENERAL") if m.get("thread_ts") == thread]
    assert replies, "the headline and the stage are replies in the incident's thread"


async def test_a_block_action_without_actions_is_a_400(slack_bot: SlackBot) -> None:
    payload = block_action_payload(
        action_id=actions.COMMANDER,
        value=ButtonValue("INC-0001").encode(),
        response_url=slack_bot.api.response_url(),
    )
    payload["actions"] = []
    response = await slack_bot.send(urlencode({"payload": json.dumps(payload)}).encode())
    assert response.status == 400
