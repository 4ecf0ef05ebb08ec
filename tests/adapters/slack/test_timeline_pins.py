"""The room's own messages on the timeline: 📌 reactions and pins over the Events API, through
the signed HTTP endpoint and over Socket Mode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

from bot.config import Channels
from bot.engine.incident import Incident, PinnedMessage
from tests.adapters.slack.conftest import ALICE, BOB, SIGNING_SECRET, SlackBot, SocketBot
from tests.support.slack_signing import event_payload, pin_event, reaction_event, sign

Empty = PinnedMessage(author="", at=datetime.now(UTC), text="")
SAID = "rolled back to 2.4.0 | <@U0ALICE> & @here, DB_PASSWORD=hunter2"


async def _open(bot: SlackBot) -> str:
    await bot.command("api-down ecap-api")
    created = await bot.api.wait_for("conversations.create")
    await bot.api.wait_for("pins.add")
    return str(created.response["channel"]["id"])


async def _wait(bot: SlackBot | SocketBot, ready: Callable[[Incident], bool]) -> Incident:
    """The incident once `ready` holds of it, as the events are handled after their ack."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not ready(incident := await bot.engine.get("INC-0001")):
        assert loop.time() < deadline, "timed out waiting for the timeline to change"
        await asyncio.sleep(0.05)
    return incident


async def _wait_pins(bot: SlackBot | SocketBot, count: int) -> Incident:
    return await _wait(bot, lambda incident: len(incident.pinned) == count)


async def test_url_verification_is_answered_at_the_signed_endpoint(slack_bot: SlackBot) -> None:
    body = json.dumps(
        {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
         "type": "url_verification"}
    ).encode()  # fmt: skip
    headers = {"Content-Type": "application/json", **sign(body, SIGNING_SECRET)}
    async with slack_bot.session.post(slack_bot.url, data=body, headers=headers) as response:
        answer = await response.text()
    forged = {"Content-Type": "application/json", **sign(body, "not-the-secret")}
    async with slack_bot.session.post(slack_bot.url, data=body, headers=forged) as refused:
        pass

    assert response.status == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in answer
    assert refused.status == 401


async def test_a_pushpin_reaction_puts_the_message_on_the_timeline_and_removal_takes_it_off(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    room = await _open(bot)
    ts = bot.api.say(room, BOB, SAID)
    added = reaction_event("reaction_added", user=ALICE, channel=room, ts=ts, item_user=BOB)

    assert (await bot.event(added)).status == 200
    incident = await _wait_pins(bot, 1)
    [entry] = incident.pinned.values()
    document = await bot.engine.post_incident_document("INC-0001")

    assert entry.author == BOB
    assert entry.at.timestamp() == float(ts)
    assert "hunter2" not in entry.text and "rolled back to 2.4.0" in entry.text
    assert "<@U0ALICE> & @here" in entry.text, "stored as typed; escaped where it is shown"
    row = next(line for line in document.splitlines() if "| pinned |" in line)
    assert f"| {BOB} | pinned |" in row and "rolled back to 2.4.0 \\|" in row
    assert "hunter2" not in document
    # The room's history is read once, for the reaction's message.
    [read] = bot.api.calls_to("conversations.replies")
    assert read.params["channel"] == room and read.params["ts"] == ts

    removed = reaction_event("reaction_removed", user=ALICE, channel=room, ts=ts, item_user=BOB)
    assert (await bot.event(removed)).status == 200
    await _wait_pins(bot, 0)
    assert "| pinned |" not in await bot.engine.post_incident_document("INC-0001")


async def test_a_pin_and_a_reaction_on_one_message_are_one_entry(slack_bot: SlackBot) -> None:
    bot = slack_bot
    room = await _open(bot)
    ts = bot.api.say(room, BOB, "the DB pool is exhausted")
    message = bot.api.workspace.channel(room).message(ts)

    await bot.event(pin_event("pin_added", user=ALICE, channel=room, message=message))
    await _wait_pins(bot, 1)
    await bot.event(reaction_event("reaction_added", user=BOB, channel=room, ts=ts, item_user=BOB))
    incident = await _wait(bot, lambda i: len(i.pinned.get(ts, Empty).marks) == 2)

    assert list(incident.pinned) == [ts]
    assert incident.pinned[ts].marks == ["pin", f"reaction:{BOB}"]
    document = await bot.engine.post_incident_document("INC-0001")
    assert len([line for line in document.splitlines() if "the DB pool is exhausted" in line]) == 1

    # Unpinned, it stays for as long as the 📌 does.
    await bot.event(pin_event("pin_removed", user=ALICE, channel=room, message=message))
    incident = await _wait(bot, lambda i: i.pinned[ts].marks == [f"reaction:{BOB}"])
    await bot.event(
        reaction_event("reaction_removed", user=BOB, channel=room, ts=ts, item_user=BOB)
    )
    await _wait_pins(bot, 0)


async def test_events_outside_incident_rooms_and_other_reactions_change_nothing(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    room = await _open(bot)
    # The incidents channel announces incidents but is no incident's room.
    elsewhere = bot.api.say("C0GENERAL", BOB, "lunch?")
    here = bot.api.say(room, BOB, "looking at the pods")
    before = await bot.engine.get("INC-0001")

    responses = [
        await bot.event(reaction_event(
            "reaction_added", user=ALICE, channel="C0GENERAL", ts=elsewhere, item_user=BOB
        )),
        await bot.event(pin_event(
            "pin_added", user=ALICE, channel="C0GENERAL",
            message=bot.api.workspace.channel("C0GENERAL").message(elsewhere),
        )),
        await bot.event(reaction_event(
            "reaction_added", user=ALICE, channel=room, ts=here, item_user=BOB, reaction="eyes"
        )),
    ]  # fmt: skip
    await asyncio.sleep(0.5)

    assert [r.status for r in responses] == [200, 200, 200]
    after = await bot.engine.get("INC-0001")
    assert (after.pinned, after.timeline) == ({}, before.timeline)
    assert not bot.api.calls_to("conversations.replies")


async def test_pins_over_socket_mode_reach_the_timeline(socket_bot: SocketBot) -> None:
    bot = socket_bot
    await bot.socket.send_slash_command(text="api-down ecap-api")
    created = await bot.api.wait_for("conversations.create")
    await bot.api.wait_for("pins.add")
    room = str(created.response["channel"]["id"])
    ts = bot.api.say(room, BOB, SAID)
    added = reaction_event("reaction_added", user=ALICE, channel=room, ts=ts, item_user=BOB)
    pinned = pin_event(
        "pin_added", user=BOB, channel=room, message=bot.api.workspace.channel(room).message(ts)
    )

    acks = [
        await bot.socket.wait_for_ack(await bot.socket.send_event(event_payload(added))),
        await bot.socket.wait_for_ack(await bot.socket.send_event(event_payload(pinned))),
    ]
    incident = await _wait(bot, lambda i: len(i.pinned.get(ts, Empty).marks) == 2)

    assert all("payload" not in ack for ack in acks)
    [entry] = incident.pinned.values()
    assert entry.author == BOB and "hunter2" not in entry.text
    assert sorted(entry.marks) == ["pin", f"reaction:{ALICE}"]

    unpinned = pin_event(
        "pin_removed", user=BOB, channel=room, message=bot.api.workspace.channel(room).message(ts)
    )
    removed = reaction_event("reaction_removed", user=ALICE, channel=room, ts=ts, item_user=BOB)
    await bot.socket.wait_for_ack(await bot.socket.send_event(event_payload(unpinned)))
    await bot.socket.wait_for_ack(await bot.socket.send_event(event_payload(removed)))
    await _wait_pins(bot, 0)


async def test_in_thread_mode_only_the_incidents_thread_counts(slack_bot: SlackBot) -> None:
    bot = slack_bot
    bot.engine.config.channels = Channels(incidents="C0GENERAL", mode="thread")
    await bot.command("api-down ecap-api")
    await bot.api.wait_for("pins.add")
    thread = (await bot.engine.get("INC-0001")).links["slack.thread_ts"]
    inside = bot.api.say("C0GENERAL", BOB, "pods are OOMKilled", thread_ts=thread)
    outside = bot.api.say("C0GENERAL", BOB, "unrelated chatter")

    for ts in (outside, inside):
        added = reaction_event(
            "reaction_added", user=ALICE, channel="C0GENERAL", ts=ts, item_user=BOB
        )
        assert (await bot.event(added)).status == 200
    incident = await _wait_pins(bot, 1)

    assert list(incident.pinned) == [inside]
    assert incident.pinned[inside].text == "pods are OOMKilled"
