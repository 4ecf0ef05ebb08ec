"""A Slack failure while opening the room: the incident is marked room pending, every touch says
so in one line and retries, nudges are not lost, and HTML error pages are clear errors."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import actions, room_repair
from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.context import SlackContext
from bot.adapters.slack.identity import Identities
from bot.adapters.slack.listeners.nudges import SlackNotifier
from bot.adapters.slack.rooms import CHANNEL, ROOM_PENDING, Rooms
from bot.errors import StoreError
from tests.adapters.slack.conftest import ALICE, SlackBot
from tests.adapters.slack.test_flow import _told, _until
from tests.support.slack_api import SlackApiStandIn

# Proxies in front of Slack label their HTML error pages either way; both must be clean errors.
CONTENT_TYPES = ["application/json", "text/html"]


def _ctx(bot: SlackBot) -> SlackContext:
    assert bot.ctx is not None
    return bot.ctx


def _room_pending_cleared(bot: SlackBot) -> Callable[[], Awaitable[bool]]:
    async def cleared() -> bool:
        return not (await bot.engine.get("INC-0001")).links.get(ROOM_PENDING)

    return cleared


def _said_keyerror(bot: SlackBot) -> bool:
    return _told(bot, "KeyError") or _told(bot, "AttributeError")


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
async def test_a_failed_room_is_pending_every_touch_says_so_and_retries(
    slack_bot: SlackBot, content_type: str
) -> None:
    bot = slack_bot
    bot.api.fail_html("conversations.create", times=2, content_type=content_type)
    ack = await bot.command("api-down ecap-api the API answers 503")
    assert "Opening" in ack["text"]
    await _until(lambda: _told(bot, "room is pending"), "the opener told the room is pending")
    incident = await bot.engine.get("INC-0001")
    assert CHANNEL not in incident.links and incident.links.get(ROOM_PENDING)
    assert "room pending" in json.dumps(await bot.command("list"))

    # A click on it while Slack still fails: one line saying so, not a KeyError.
    commander = {"action_id": actions.COMMANDER, "value": ButtonValue("INC-0001").encode()}
    assert await bot.click(commander) == 200
    await _until(lambda: len(bot.api.calls_to("conversations.create")) == 2, "a second try")
    await _until(
        lambda: sum("room is pending" in str(c.params.get("text")) for c in bot.api.calls) >= 2,
        "the click told the room is pending",
    )
    assert (await bot.engine.get("INC-0001")).commander is None
    assert not _said_keyerror(bot)

    # Slack answers again: the next command touching it opens the room, stage and all.
    status = await bot.command("status INC-0001")
    assert "room is pending" in json.dumps(status)
    await _until(lambda: bot.api.channel_named("inc-0001-api-down-ecap-api"), "the room")
    room = bot.api.channel_named("inc-0001-api-down-ecap-api")
    assert room is not None
    await _until(lambda: "Run diagnostics" in bot.texts(room.id), "the first stage")
    # The stage is shown before the mark is cleared (room_repair._make); wait for the clearing.
    await _until(_room_pending_cleared(bot), "the room pending mark cleared")
    incident = await bot.engine.get("INC-0001")
    assert incident.links[CHANNEL] == room.id and not incident.links.get(ROOM_PENDING)
    assert ALICE in room.members and bot.api.pins(room.id)
    assert "room pending" not in json.dumps(await bot.command("list"))
    assert not _said_keyerror(bot)


async def test_a_nudge_for_a_room_pending_incident_goes_to_the_incidents_channel_then_the_room(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    bot.api.fail_html("conversations.create", times=2)
    await bot.command("api-down ecap-api")
    await _until(lambda: _told(bot, "room is pending"), "the opener told the room is pending")
    incident = await bot.engine.get("INC-0001")
    level = bot.engine.playbook_for(incident).escalation[0]
    notifier = SlackNotifier(_ctx(bot))
    await notifier.escalation_due(incident, level, None, late=False)
    general = bot.texts("C0GENERAL")
    assert f"escalate to level {level.level}" in general and "room is pending" in general

    # The room comes (here: the periodic repair); the held nudge is posted in it.
    await room_repair.repair_all(_ctx(bot).rooms)
    room = bot.api.channel_named("inc-0001-api-down-ecap-api")
    assert room is not None
    assert f"escalate to level {level.level}" in bot.texts(room.id)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
async def test_readyz_says_503_with_a_reason_when_auth_test_answers_html(
    slack_bot: SlackBot, content_type: str
) -> None:
    slack_bot.api.fail_html("auth.test", content_type=content_type)
    url = slack_bot.url.replace("/slack/events", "/readyz")
    async with slack_bot.session.get(url) as response:
        status, text = response.status, await response.text()
    assert status == 503, text
    assert text == "slack auth failed: HTTP 500, not a Slack API answer", text


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
async def test_a_user_group_answering_html_is_logged_in_one_line(
    content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with SlackApiStandIn() as api:
        api.set_usergroup("S0OPS", [ALICE])
        api.fail_html("usergroups.users.list", content_type=content_type)
        identities = Identities(AsyncWebClient(token=api.bot_token, base_url=api.url), ["S0OPS"])
        with caplog.at_level(logging.WARNING):
            actor = await identities.actor(ALICE)
        assert actor.groups == frozenset()
        assert "cannot read user group S0OPS: HTTP 500, not a Slack API answer" in caplog.text


def _posts(bot: SlackBot, channel: str, words: str) -> int:
    """How many messages in the channel say `words`."""
    return sum(words in json.dumps(m) for m in bot.api.messages(channel))


class FailingOver:
    """The bot's store, answering nothing while `down` (a primary dying, Sentinel promoting)."""

    def __init__(self, store: Any) -> None:
        self.store, self.down = store, False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreError("redis store: Connection refused")
            return await method(*args, **kwargs)

        return call


async def test_a_nudge_held_through_a_store_failover_is_posted_once_within_seconds(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    bot.api.fail_html("conversations.create", times=1)
    await bot.command("api-down ecap-api")
    await _until(lambda: _told(bot, "room is pending"), "the opener told the room is pending")
    incident = await bot.engine.get("INC-0001")
    level = bot.engine.playbook_for(incident).escalation[0]
    store = FailingOver(bot.engine.store)
    bot.engine.store = store
    rooms = _ctx(bot).rooms
    # The periodic round is far off: only the prompt retry after the hold can make it in time.
    async with room_repair.repairing(rooms, every_s=600.0):
        store.down = True
        # The level fires as the primary dies: its room cannot even be claimed. Held, not lost.
        await SlackNotifier(_ctx(bot)).escalation_due(incident, level, None, late=False)
        assert rooms.held[incident.id]
        await asyncio.sleep(1.5)
        store.down = False
        await _until(
            lambda: bot.api.channel_named("inc-0001-api-down-ecap-api"), "the room", timeout=10.0
        )
        room = bot.api.channel_named("inc-0001-api-down-ecap-api")
        assert room is not None
        nudge = f"escalate to level {level.level}"
        await _until(lambda: nudge in bot.texts(room.id), "the held nudge", timeout=10.0)
        await asyncio.sleep(1.5)
    assert _posts(bot, room.id, nudge) == 1
    assert not rooms.held


async def test_an_opening_cut_by_the_store_leaves_a_short_claim_and_the_room_is_repaired(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    bot.api.fail_html("conversations.create", times=1)
    await bot.command("api-down ecap-api")
    await _until(lambda: _told(bot, "room is pending"), "the opener told the room is pending")
    store = FailingOver(bot.engine.store)
    bot.engine.store = store
    rooms = _ctx(bot).rooms
    incident = await bot.engine.get("INC-0001")
    # An opening whose process lost the store mid-way: its claim could not be released.
    assert await store.claim("slack-room:INC-0001", "cut-off", room_repair.CLAIM_SECONDS)
    level = bot.engine.playbook_for(incident).escalation[0]
    async with room_repair.repairing(rooms, every_s=600.0):
        await SlackNotifier(_ctx(bot)).escalation_due(incident, level, None, late=False)
        nudge = f"escalate to level {level.level}"

        # Within the claim's few seconds and a retry or two, not minutes.
        def in_room() -> int:
            room = bot.api.channel_named("inc-0001-api-down-ecap-api")
            return 0 if room is None else _posts(bot, room.id, nudge)

        await _until(
            in_room,
            "the held nudge in the room",
            timeout=room_repair.CLAIM_SECONDS + room_repair.RETRY_FIRST_S * 16,
        )
    assert in_room() == 1


async def test_a_nudge_held_here_is_posted_when_another_replica_makes_the_room(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    bot.api.fail_html("conversations.create", times=2)
    await bot.command("api-down ecap-api")
    await _until(lambda: _told(bot, "room is pending"), "the opener told the room is pending")
    incident = await bot.engine.get("INC-0001")
    level = bot.engine.playbook_for(incident).escalation[0]
    ctx = _ctx(bot)
    await SlackNotifier(ctx).escalation_due(incident, level, None, late=False)
    assert ctx.rooms.held[incident.id]

    # Another replica (its own Rooms, same store and Slack) makes the room.
    elsewhere = Rooms(ctx.rooms.client, bot.engine, ctx.rooms.config)
    await room_repair.ensure_room(elsewhere, await bot.engine.get(incident.id))
    room = bot.api.channel_named("inc-0001-api-down-ecap-api")
    assert room is not None
    nudge = f"escalate to level {level.level}"
    assert nudge not in bot.texts(room.id)

    assert await room_repair.repair_all(ctx.rooms)
    assert _posts(bot, room.id, nudge) == 1 and not ctx.rooms.held
    await room_repair.repair_all(ctx.rooms)
    assert _posts(bot, room.id, nudge) == 1
