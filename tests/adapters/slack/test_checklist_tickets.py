"""Create ticket on a post-incident checklist item, over the HTTP endpoint and Socket Mode."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.adapters.slack import actions
from bot.config import TicketsConfig
from bot.engine.incident import Actor, ChecklistItem
from bot.integrations import tickets
from tests.adapters.slack.conftest import BOB, CAROL, SlackBot, SocketBot
from tests.adapters.slack.test_checklist_messages import _element_body, _elements, _resolve
from tests.adapters.slack.test_flow import _open, _until
from tests.adapters.slack.test_room_pending import FailingOver
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


def _jira(url: str) -> TicketsConfig:
    return TicketsConfig(
        kind="jira",
        project="OPS",
        email="bot@example.com",
        base_url=url,
        token_env="RB_TEST_TICKETS",
    )


async def _pick_owner(bot: SlackBot, channel: str, index: int, user: str) -> None:
    picker = _elements(bot, channel, actions.CHECKLIST_OWNER)[index]
    await bot.send(_element_body(bot, picker, {"type": "users_select", "selected_user": user}))
    await _until(
        lambda: _elements(bot, channel, actions.CHECKLIST_OWNER)[index].get("initial_user") == user,
        "the owner shown",
    )


async def test_a_ticket_filed_as_the_store_went_down_is_adopted_not_filed_twice(
    slack_bot: SlackBot, tracker: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = slack_bot
    assert bot.ctx is not None
    bot.ctx.config.tickets = TicketsConfig(
        kind="github", repo="acme/ops", base_url=tracker.url, token_env="RB_TEST_TICKETS"
    )
    monkeypatch.setattr(tickets, "CLAIM_S", 1.0)
    channel = await _open(bot)
    await _resolve(bot, channel)
    store = FailingOver(bot.engine.store)
    bot.engine.store = store

    def store_dies() -> None:
        store.down = True

    # The issue is filed; the store dies before the link is saved.
    tracker.on_create = store_dies
    button = bot.button(channel, actions.CHECKLIST_TICKET, step="within-24h.0")
    assert await bot.click(button, channel=channel) == 200
    await bot.api.wait_for("response_url", lambda c: "Connection refused" in json.dumps(c.params))
    assert len(tracker.created) == 1
    tracker.on_create, store.down = None, False
    incident = await bot.engine.get("INC-0001")
    assert incident.checklist.get("within-24h.0", ChecklistItem()).ticket == ""

    # While the claim holds, a click is refused; once it has run out, the issue is adopted.
    assert await bot.click(button, channel=channel) == 200
    await bot.api.wait_for(
        "response_url", lambda c: "being created already" in json.dumps(c.params)
    )
    await asyncio.sleep(1.1)
    assert await bot.click(button, channel=channel) == 200
    link = "https://github.com/acme/ops/issues/1"
    await _until(lambda: f"<{link}|ticket>" in bot.texts(channel), "the adopted ticket shown")
    incident = await bot.engine.get("INC-0001")
    assert incident.checklist["within-24h.0"].ticket == link
    assert len(tracker.created) == 1
    (first, second) = tracker.searched
    marker = f"runbook-bot INC-0001 within-24h.0 {incident.opened_at:%Y%m%dT%H%M%SZ}"
    assert first == second == f'"{marker}" repo:acme/ops is:issue in:body'
    assert tracker.created[0]["body"].endswith(marker)
    assert tracker.refused == []


async def test_a_failed_search_files_nothing_and_the_button_stays(
    slack_bot: SlackBot, tracker: TrackerStandIn
) -> None:
    bot = slack_bot
    assert bot.ctx is not None
    bot.ctx.config.tickets = _jira(tracker.url)
    channel = await _open(bot)
    await _resolve(bot, channel)
    before = len(_ticket_buttons(bot, channel))
    tracker.fail_search_with = 500
    assert await bot.click(bot.button(channel, actions.CHECKLIST_TICKET), channel=channel) == 200
    await _until(lambda: "searching Jira issues: HTTP 500" in bot.texts(channel), "the line")
    assert tracker.created == []
    assert len(_ticket_buttons(bot, channel)) == before
    # The claim was let go: the retry files it.
    tracker.fail_search_with = 0
    assert await bot.click(bot.button(channel, actions.CHECKLIST_TICKET), channel=channel) == 200
    await _until(lambda: len(_ticket_buttons(bot, channel)) == before - 1, "the retry")
    assert len(tracker.created) == 1


async def test_the_ticket_names_the_owner_from_slack(
    slack_bot: SlackBot, tracker: TrackerStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    bot = slack_bot
    assert bot.ctx is not None
    bot.ctx.config.tickets = TicketsConfig(
        kind="github", repo="acme/ops", base_url=tracker.url, token_env="RB_TEST_TICKETS"
    )
    bot.api.add_user(BOB, "bob", real_name="Bob Builder")
    bot.api.add_user("U0DAN", "dan")
    channel = await _open(bot)
    await _resolve(bot, channel)
    await _pick_owner(bot, channel, 0, BOB)
    await _pick_owner(bot, channel, 1, BOB)
    await _pick_owner(bot, channel, 2, "U0DAN")
    # Dan leaves the workspace: users.info no longer knows him.
    del bot.api.workspace.users["U0DAN"]

    with caplog.at_level(logging.WARNING):
        for step in ["within-24h.0", "within-24h.1", "within-24h.2"]:
            button = bot.button(channel, actions.CHECKLIST_TICKET, step=step)
            assert await bot.click(button, channel=channel) == 200
            await _until(_filed(tracker, step), f"the ticket for {step}")
    first, second, third = (issue["body"] for issue in tracker.created)
    assert f"Owner: Bob Builder ({BOB})" in first and f"Owner: Bob Builder ({BOB})" in second
    assert "Owner: U0DAN\n" in third
    # Bob's name is asked for once; Dan's failure is one line in the log.
    assert [c.params["user"] for c in bot.api.calls_to("users.info")] == [BOB, "U0DAN"]
    [line] = [r.getMessage() for r in caplog.records if "cannot read user" in r.getMessage()]
    assert line == "cannot read user U0DAN: Slack answered user_not_found"


def _filed(tracker: TrackerStandIn, step: str) -> Callable[[], bool]:
    return lambda: any(step in issue["body"] for issue in tracker.created)


async def test_socket_mode_adopts_the_ticket_and_names_the_owner(
    socket_bot: SocketBot, tracker: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, socket, engine = socket_bot.api, socket_bot.socket, socket_bot.engine
    engine.config.tickets = _jira(tracker.url)
    api.add_user(CAROL, "carol", real_name="Carol Danvers")
    monkeypatch.setattr(tickets, "CLAIM_S", 1.0)
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
    key = json.loads(button["value"])["s"]
    await engine.assign_item("INC-0001", key, CAROL, Actor(id=CAROL, name="carol"))
    store = FailingOver(engine.store)
    engine.store = store

    def store_dies() -> None:
        store.down = True

    tracker.on_create = store_dies
    click = block_action_payload(
        action_id=actions.CHECKLIST_TICKET,
        value=button["value"],
        response_url=api.response_url(channel),
        channel_id=channel,
        message_ts=button["_ts"],
    )
    await socket.wait_for_ack(await socket.send_interactive(click))
    await api.wait_for("response_url", lambda c: "Connection refused" in json.dumps(c.params))
    tracker.on_create, store.down = None, False
    await asyncio.sleep(1.1)
    await socket.wait_for_ack(await socket.send_interactive(click))
    link = f"{tracker.url}/browse/OPS-1"
    await api.wait_for("chat.update", lambda c: f"<{link}|ticket>" in json.dumps(c.params))
    assert (await engine.get("INC-0001")).checklist[key].ticket == link
    (fields,) = tracker.created
    texts = [p["content"][0]["text"] for p in fields["description"]["content"]]
    assert f"Owner: Carol Danvers ({CAROL})" in texts
    assert len(tracker.searched) == 2
    assert tracker.refused == []
