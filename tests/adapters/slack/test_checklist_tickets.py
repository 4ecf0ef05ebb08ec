"""Create ticket on a post-incident checklist item, over the HTTP endpoint and Socket Mode."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.adapters.slack import actions
from bot.config import TicketsConfig
from tests.adapters.slack.conftest import BOB, SlackBot, SocketBot
from tests.adapters.slack.test_checklist_messages import _element_body, _elements, _resolve
from tests.adapters.slack.test_flow import _open, _until
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import block_action_payload, view_submission_payload
from tests.support.ticket_trackers import TrackerStandIn

TOKEN = "gh-token-31c9d0e7"


@pytest.fixture
async def tracker(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TrackerStandIn]:
    monkeypatch.setenv("RB_TEST_TICKETS", TOKEN)
    server = TrackerStandIn(token=TOKEN)
    await server.start()
    yield server
    await server.stop()


def _ticket_buttons(bot: SlackBot, channel: str) -> list[dict[str, object]]:
    return bot.buttons(channel, actions.CHECKLIST_TICKET)


async def test_create_ticket_stores_and_shows_the_link(
    slack_bot: SlackBot, tracker: TrackerStandIn
) -> None:
    bot = slack_bot
    assert bot.ctx is not None
    bot.ctx.config.tickets = TicketsConfig(
        kind="github", repo="acme/ops", base_url=tracker.url, token_env="RB_TEST_TICKETS"
    )
    channel = await _open(bot)
    await _resolve(bot, channel)
    items = sum(len(c.items) for c in bot.engine.playbooks["api-down"].post_incident)
    assert len(_ticket_buttons(bot, channel)) == items

    # An owner first, so the ticket names them.
    picker = _elements(bot, channel, actions.CHECKLIST_OWNER)[0]
    await bot.send(_element_body(bot, picker, {"type": "users_select", "selected_user": BOB}))
    await _until(
        lambda: any(
            e.get("initial_user") == BOB for e in _elements(bot, channel, actions.CHECKLIST_OWNER)
        ),
        "the owner shown",
    )

    button = bot.button(channel, actions.CHECKLIST_TICKET, step="within-24h.0")
    assert await bot.click(button, channel=channel) == 200
    await _until(lambda: len(_ticket_buttons(bot, channel)) == items - 1, "the button replaced")
    incident = await bot.engine.get("INC-0001")
    link = "https://github.com/acme/ops/issues/1"
    assert incident.checklist["within-24h.0"].ticket == link
    assert incident.timeline[-1].event == "checklist-ticket"
    assert f"<{link}|ticket>" in bot.texts(channel)
    (issue,) = tracker.created
    assert "INC-0001" in issue["title"]
    assert BOB in issue["body"]
    assert "https://runbook-test.slack.com/archives/" in issue["body"]
    assert tracker.refused == []

    # The same item again (an old copy of the message): refused, nothing filed.
    assert await bot.click(button, channel=channel) == 200
    await bot.api.wait_for("response_url", lambda c: "already has a ticket" in json.dumps(c.params))
    assert len(tracker.created) == 1

    # The post-incident document lists the ticket.
    assert f"ticket: {link}" in await bot.engine.post_incident_document("INC-0001")


async def test_a_failed_ticket_is_one_line_and_the_button_stays(
    slack_bot: SlackBot, tracker: TrackerStandIn
) -> None:
    bot = slack_bot
    channel = await _open(bot)
    await _resolve(bot, channel)
    before = len(_ticket_buttons(bot, channel))

    # No tracker configured.
    assert await bot.click(bot.button(channel, actions.CHECKLIST_TICKET), channel=channel) == 200
    await _until(lambda: "no ticket tracker configured" in bot.texts(channel), "the no-config line")

    # A tracker that answers 500.
    tracker.fail_with = 500
    assert bot.ctx is not None
    bot.ctx.config.tickets = TicketsConfig(
        kind="jira",
        project="OPS",
        email="bot@example.com",
        base_url=tracker.url,
        token_env="RB_TEST_TICKETS",
    )
    assert await bot.click(bot.button(channel, actions.CHECKLIST_TICKET), channel=channel) == 200
    await _until(lambda: "HTTP 500" in bot.texts(channel), "the failure line")
    failure = next(m["text"] for m in bot.api.messages(channel) if "HTTP 500" in str(m.get("text")))
    assert "\n" not in failure
    assert len(_ticket_buttons(bot, channel)) == before
    incident = await bot.engine.get("INC-0001")
    assert not any(item.ticket for item in incident.checklist.values())

    # It works on the retry.
    tracker.fail_with = 0
    assert await bot.click(bot.button(channel, actions.CHECKLIST_TICKET), channel=channel) == 200
    await _until(lambda: len(_ticket_buttons(bot, channel)) == before - 1, "the retry")
    incident = await bot.engine.get("INC-0001")
    assert [i.ticket for i in incident.checklist.values() if i.ticket] == [
        f"{tracker.url}/browse/OPS-1"
    ]


async def test_create_ticket_over_socket_mode(
    socket_bot: SocketBot, tracker: TrackerStandIn
) -> None:
    api, socket, engine = socket_bot.api, socket_bot.socket, socket_bot.engine
    engine.config.tickets = TicketsConfig(
        kind="jira",
        project="OPS",
        email="bot@example.com",
        base_url=tracker.url,
        token_env="RB_TEST_TICKETS",
    )
    await socket.wait_for_ack(await socket.send_slash_command(text="api-down ecap-api"))
    created = await api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    values = {
        "c": {actions.RESOLVE_CAUSE: {"type": "plain_text_input", "value": "bad deploy"}},
        "r": {actions.RESOLVE_RESOLUTION: {"type": "plain_text_input", "value": "rolled back"}},
    }
    resolve = view_submission_payload(
        callback_id=actions.RESOLVE_VIEW, private_metadata="INC-0001", state_values=values
    )
    await socket.wait_for_ack(await socket.send_interactive(resolve))
    await _until(lambda: _socket_buttons(api, channel), "the checklists")
    button = _socket_buttons(api, channel)[0]
    click = block_action_payload(
        action_id=actions.CHECKLIST_TICKET,
        value=button["value"],
        response_url=api.response_url(channel),
        channel_id=channel,
        message_ts=button["_ts"],
    )
    await socket.wait_for_ack(await socket.send_interactive(click))
    link = f"{tracker.url}/browse/OPS-1"
    await api.wait_for("chat.update", lambda c: f"<{link}|ticket>" in json.dumps(c.params))
    incident = await engine.get("INC-0001")
    key = json.loads(button["value"])["s"]
    assert incident.checklist[key].ticket == link
    (fields,) = tracker.created
    assert fields["description"]["type"] == "doc"
    assert tracker.refused == []


def _socket_buttons(api: SlackApiStandIn, channel: str) -> list[dict[str, Any]]:
    found = []
    for message in api.messages(channel):
        for block in message.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("action_id") == actions.CHECKLIST_TICKET:
                    found.append({**element, "_ts": message.get("ts", "")})
    return found
