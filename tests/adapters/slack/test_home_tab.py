"""The Home tab: app_home_opened publishes the viewer's incidents, approvals and checklist
items, through the signed HTTP endpoint and over Socket Mode, and changes republish it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.adapters.slack.rendering.home_blocks import HOME_LINK
from bot.engine import checklist
from bot.engine.incident import Actor
from tests.adapters.slack.conftest import ALICE, BOB, CAROL, SlackBot, SocketBot
from tests.support.slack_api import ApiCall, SlackApiStandIn
from tests.support.slack_signing import block_action_body, event_payload


def home_opened(user: str) -> dict[str, Any]:
    """`app_home_opened` as Slack sends it when someone opens the app's Home tab."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": f"D0{user}",
        "tab": "home",
        "event_ts": "1700000000.000100",
    }


async def _published(api: SlackApiStandIn, user: str, words: str = "") -> ApiCall:
    """The first views.publish for `user` whose view holds `words`."""
    return await api.wait_for(
        "views.publish",
        lambda c: c.params.get("user_id") == user and words in json.dumps(c.params["view"]),
    )


def _sections(call: ApiCall) -> list[dict[str, Any]]:
    view = call.params["view"]
    return [b for b in view["blocks"] if b["type"] == "section"]


async def _open(bot: SlackBot) -> str:
    await bot.command("api-down ecap-api")
    created = await bot.api.wait_for("conversations.create")
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    return str(created.response["channel"]["id"])


async def test_the_home_tab_shows_open_incidents_and_the_approvals_waiting_for_the_viewer(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    room = await _open(bot)
    await bot.engine.request_fix("INC-0001", "rollback", Actor(id=ALICE))

    assert (await bot.event(home_opened(BOB))).status == 200
    bob = await _published(bot.api, BOB, "A1")
    await bot.event(home_opened(CAROL))
    carol = await _published(bot.api, CAROL)

    incident, approval = _sections(bob)[:2]
    text = incident["text"]["text"]
    assert "*INC-0001*" in text and "`ecap-api`" in text and "critical" in text
    assert "stage 1/" in text and "open " in text and "next escalation: " in text
    headline = bot.api.workspace.channel(room).pins[0]
    room_link = f"https://runbook-test.slack.com/archives/{room}/p{headline.replace('.', '')}"
    assert incident["accessory"]["url"] == room_link
    assert incident["accessory"]["action_id"] == HOME_LINK
    assert "INC-0001 · A1" in approval["text"]["text"] and f"<@{ALICE}>" in approval["text"]["text"]
    assert approval["accessory"]["url"].startswith(
        f"https://runbook-test.slack.com/archives/{room}/"
    )
    assert "Nothing to approve." in json.dumps(carol.params["view"]), "Carol is no approver"

    # The link button's click is answered, and nothing else happens.
    click = block_action_body(
        action_id=HOME_LINK, value="", response_url=bot.api.response_url(), user_id=BOB
    )
    assert (await bot.send(click)).status == 200
    await asyncio.sleep(0.5)
    told = [*bot.api.calls_to("chat.postEphemeral"), *bot.api.calls_to("response_url")]
    assert not [c for c in told if "not one of mine" in str(c.params.get("text"))]


async def test_a_change_republishes_the_home_tab_of_recent_viewers(slack_bot: SlackBot) -> None:
    bot = slack_bot
    await bot.event(home_opened(BOB))
    await _published(bot.api, BOB, "No open incidents.")

    await _open(bot)
    republished = await _published(bot.api, BOB, "INC-0001")

    assert "No open incidents." not in json.dumps(republished.params["view"])
    assert all(c.params["user_id"] == BOB for c in bot.api.calls_to("views.publish"))


async def test_the_home_tab_lists_the_checklist_items_the_viewer_owns(slack_bot: SlackBot) -> None:
    bot = slack_bot
    await _open(bot)
    incident = await bot.engine.resolve("INC-0001", Actor(id=ALICE), "bad deploy", "rolled back")
    found = checklist.applicable(bot.engine.playbook_for(incident), incident)[0]
    mine, theirs = checklist.tasks(found, incident)[:2]
    await bot.engine.assign_item("INC-0001", mine.key, BOB, Actor(id=ALICE))
    await bot.engine.assign_item("INC-0001", theirs.key, CAROL, Actor(id=ALICE))

    await bot.event(home_opened(BOB))
    home = json.dumps((await _published(bot.api, BOB, "Your checklist items")).params["view"])

    assert "No open incidents." in home
    assert mine.text[:40] in home and theirs.text[:40] not in home


async def test_the_home_tab_over_socket_mode(socket_bot: SocketBot) -> None:
    bot = socket_bot
    await bot.socket.send_slash_command(text="api-down ecap-api")
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))

    envelope = await bot.socket.send_event(event_payload(home_opened(ALICE)))
    ack = await bot.socket.wait_for_ack(envelope)
    home = await _published(bot.api, ALICE, "INC-0001")

    assert "payload" not in ack
    assert _sections(home)[0]["accessory"]["url"].startswith("https://runbook-test.slack.com/")
