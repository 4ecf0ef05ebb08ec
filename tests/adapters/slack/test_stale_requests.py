"""A request Slack has given up on changes nothing and its sender is told in one line; a decision
stored before an ack that leaves too late is said to be done. Over HTTP and Socket Mode."""

from __future__ import annotations

import json
import time

from bot.adapters.slack import actions
from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.intake import check_write
from bot.engine.incident import Incident
from tests.adapters.slack.conftest import ALICE, SIGNING_SECRET, SlackBot, SocketBot
from tests.support.slack_api import ApiCall
from tests.support.slack_signing import (
    block_action_body,
    block_action_payload,
    sign,
    slash_command_body,
    view_submission_body,
)

NOTHING_DONE = "nothing was done, run it again"
# Longer than the 2.5 s after which a request decides nothing, and than Slack's 3 s.
HELD_UP_S = 3.5


def stand_still() -> None:
    """The whole process stops, as under SIGSTOP: nothing runs, sockets fill."""
    time.sleep(HELD_UP_S)


def command_body(bot: SlackBot, text: str) -> bytes:
    url = bot.api.response_url("C0GENERAL")
    return slash_command_body(response_url=url, text=text, user_id=ALICE)


def told(call: ApiCall) -> bool:
    return NOTHING_DONE in str(call.params.get("text", ""))


async def _open(bot: SlackBot) -> tuple[str, dict[str, str]]:
    """An incident with its room; its id and its claim-commander button."""
    await bot.command("api-down ecap-api the API answers 503")
    created = await bot.api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    return "INC-0001", bot.button(channel, actions.COMMANDER)


async def test_a_stale_slash_command_opens_nothing_and_says_so(slack_bot: SlackBot) -> None:
    bot = slack_bot
    url = bot.api.response_url("C0GENERAL")
    body = slash_command_body(response_url=url, text="api-down ecap-api late", user_id=ALICE)
    sent_10_s_ago = sign(body, SIGNING_SECRET, int(time.time()) - 10)

    response = await bot.send(body, sent_10_s_ago)

    assert response.status == 200
    answer = await bot.api.wait_for("response_url", told)
    assert answer.params["text"].startswith(":warning: that request reached the bot 1")
    assert answer.params["response_type"] == "ephemeral"
    assert await bot.engine.list_incidents(None) == []
    assert bot.api.calls_to("conversations.create") == []


async def test_a_stale_click_changes_nothing_and_says_so(slack_bot: SlackBot) -> None:
    bot = slack_bot
    incident_id, button = await _open(bot)
    body = block_action_body(
        action_id=button["action_id"],
        value=button["value"],
        response_url=bot.api.response_url(button["_channel"]),
        user_id=ALICE,
        channel_id=button["_channel"],
        message_ts=button["_ts"],
    )
    response = await bot.send(body, sign(body, SIGNING_SECRET, int(time.time()) - 10))

    assert response.status == 200
    await bot.api.wait_for("response_url", told)
    incident = await bot.engine.get(incident_id)
    assert incident.commander is None
    assert not [e for e in incident.timeline if e.event == "commander"]


async def test_a_stale_resolve_submit_leaves_the_incident_open(slack_bot: SlackBot) -> None:
    bot = slack_bot
    incident_id, _ = await _open(bot)
    body = view_submission_body(
        callback_id=actions.RESOLVE_VIEW,
        private_metadata=incident_id,
        state_values={
            "cause": {actions.RESOLVE_CAUSE: {"type": "plain_text_input", "value": "bad deploy"}},
            "fix": {actions.RESOLVE_RESOLUTION: {"type": "plain_text_input", "value": "rolled"}},
        },
    )

    response = await bot.send(body, sign(body, SIGNING_SECRET, int(time.time()) - 10))

    assert response.status == 200
    assert (await bot.engine.get(incident_id)).status == "open"


async def test_a_request_held_up_before_its_decision_stores_nothing(slack_bot: SlackBot) -> None:
    """The process stands still between taking the request in and storing what it decided (as
    under SIGSTOP): when it goes on, the write is refused and the sender told."""
    bot = slack_bot
    held: list[bool] = []

    def hold_up_once() -> None:
        if not held:
            held.append(True)
            stand_still()

    # The intake's check runs again after the hold-up, where the decision would be stored.
    bot.engine.check_writes(hold_up_once)
    bot.engine.check_writes(check_write)

    # Bolt answers for itself once 3 s passed without an ack; Slack has given up by then.
    await bot.send(command_body(bot, "api-down ecap-api held up"))

    await bot.api.wait_for("response_url", told)
    assert held
    assert await bot.engine.list_incidents(None) == []
    assert bot.api.calls_to("conversations.create") == []
    # No number was handed out to it: the next opening is the first.
    assert "Opening INC-0001" in (await bot.command("api-down ecap-api afterwards"))["text"]


async def test_a_decision_whose_ack_left_late_is_said_to_be_done(slack_bot: SlackBot) -> None:
    """Stored in time, then held up before the ack: Slack may have shown an error, so the
    sender is told it was done and not to run it again; the incident opens once."""
    bot = slack_bot
    held: list[bool] = []

    def hold_up_once(incident: Incident) -> None:
        if not held:
            held.append(True)
            stand_still()

    bot.engine.on_change(hold_up_once)

    # Bolt answers for itself once 3 s passed without an ack; Slack has given up by then.
    await bot.send(command_body(bot, "api-down ecap-api ack held up"))

    answer = await bot.api.wait_for(
        "response_url", lambda c: "do not run it again" in str(c.params)
    )
    assert "INC-0001 was changed as you asked" in answer.params["text"]
    await bot.api.wait_for("conversations.create")
    assert len(await bot.engine.list_incidents(None)) == 1


async def test_over_socket_mode_a_stale_click_changes_nothing(socket_bot: SocketBot) -> None:
    bot = socket_bot
    await bot.socket.wait_for_ack(await bot.socket.send_slash_command(text="api-down ecap-api"))
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    incident = (await bot.engine.list_incidents())[0]
    click = block_action_payload(
        action_id=actions.COMMANDER,
        value=ButtonValue(incident=incident.id).encode(),
        response_url=bot.api.response_url(incident.links["slack.channel"]),
        channel_id=incident.links["slack.channel"],
    )
    click["actions"][0]["action_ts"] = f"{time.time() - 10:.6f}"

    await bot.socket.wait_for_ack(await bot.socket.send_interactive(click))

    await bot.api.wait_for("response_url", told)
    assert (await bot.engine.get(incident.id)).commander is None


async def test_over_socket_mode_a_command_read_after_a_stall_opens_nothing(
    socket_bot: SocketBot,
) -> None:
    """A slash command carries no time: one read right after the process stood still is taken
    to be as old as the stall."""
    bot = socket_bot
    envelope = await bot.socket.send_slash_command(text="api-down ecap-api after a stall")
    # The envelope waits in the socket while the whole process stands still.
    stand_still()

    await bot.socket.wait_for_ack(envelope)

    await bot.api.wait_for("response_url", told)
    assert await bot.engine.list_incidents(None) == []
