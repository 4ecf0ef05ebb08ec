"""Declaring an incident from a message: the message shortcut, its modal and the submission,
through the signed HTTP endpoint and over Socket Mode."""

from __future__ import annotations

import json
from typing import Any

from bot.adapters.slack.rendering.declare_modal import (
    DECLARE_PLAYBOOK,
    DECLARE_SERVICE,
    DECLARE_VIEW,
    SHORTCUT,
)
from tests.adapters.slack.conftest import ALICE, BOB, SlackBot, SocketBot
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import (
    message_action_payload,
    view_submission_body,
    view_submission_payload,
)

SAID = "ecap-api answers 503 since 10:02 <!here> & DB_PASSWORD=hunter2"


def _shortcut(api: SlackApiStandIn, text: str = SAID) -> dict[str, Any]:
    """Bob said `text` in #general; Alice picks "Open an incident" on it."""
    ts = api.say("C0GENERAL", BOB, text)
    return message_action_payload(
        callback_id=SHORTCUT,
        response_url=api.response_url("C0GENERAL"),
        message=api.workspace.channel("C0GENERAL").message(ts),
        user_id=ALICE,
        channel_id="C0GENERAL",
    )


def _picked(playbook: str, service: str) -> dict[str, Any]:
    def select(action_id: str, value: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {action_id: {"type": "static_select", "selected_option": option}}

    return {
        DECLARE_PLAYBOOK: select(DECLARE_PLAYBOOK, playbook),
        DECLARE_SERVICE: select(DECLARE_SERVICE, service),
    }


def _initial(view: dict[str, Any], block_id: str) -> str:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return str((block["element"].get("initial_option") or {}).get("value", ""))


async def test_the_shortcut_opens_a_prefilled_modal_and_the_incident_quotes_the_message(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    shortcut = _shortcut(bot.api)

    assert await bot.shortcut(shortcut) == 200
    opened = await bot.api.wait_for("views.open")
    view = opened.response["view"]
    assert opened.params["trigger_id"] == shortcut["trigger_id"]
    assert view["callback_id"] == DECLARE_VIEW
    assert _initial(view, DECLARE_SERVICE) == "ecap-api", "the service the message names"
    assert "hunter2" not in json.dumps(view) and "&lt;!here&gt;" in json.dumps(view)

    body = view_submission_body(
        callback_id=DECLARE_VIEW,
        private_metadata=view["private_metadata"],
        state_values=_picked("api-down", "ecap-api"),
        user_id=ALICE,
    )
    assert (await bot.send(body)).status == 200
    await bot.api.wait_for("chat.postMessage", lambda c: c.params["channel"] == "C0GENERAL")
    incident = await bot.engine.get("INC-0001")

    ts = shortcut["message_ts"]
    link = f"https://runbook-test.slack.com/archives/C0GENERAL/p{ts.replace('.', '')}"
    assert (incident.playbook_id, incident.service, incident.opened_by) == (
        "api-down", "ecap-api", ALICE,
    )  # fmt: skip
    assert link in incident.summary and f"by {BOB}" in incident.summary
    assert "ecap-api answers 503 since 10:02 <!here> & DB_PASSWORD=" in incident.summary
    assert "hunter2" not in incident.summary
    announced = json.dumps([m for m in bot.api.messages("C0GENERAL") if m.get("bot_id")])
    assert link in announced and "&lt;!here&gt; &amp;" in announced
    assert "<!here>" not in announced and "hunter2" not in announced
    [permalink] = bot.api.calls_to("chat.getPermalink")
    assert permalink.params == {"channel": "C0GENERAL", "message_ts": ts}


async def test_an_unknown_playbook_is_one_line_in_the_modal_and_opens_nothing(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    await bot.shortcut(_shortcut(bot.api))
    view = (await bot.api.wait_for("views.open")).response["view"]
    body = view_submission_body(
        callback_id=DECLARE_VIEW,
        private_metadata=view["private_metadata"],
        state_values=_picked("no-such-playbook", "ecap-api"),
    )

    response = await bot.send(body)
    answer = json.loads(await response.text())

    assert answer["response_action"] == "errors"
    [line] = answer["errors"].values()
    assert line.startswith("no playbook 'no-such-playbook' (known: api-down,")
    assert await bot.engine.list_incidents(None) == []


async def test_a_message_naming_no_service_leaves_the_service_to_pick(slack_bot: SlackBot) -> None:
    bot = slack_bot
    # The bot knows one service, which is then the only one to pick.
    await bot.shortcut(_shortcut(bot.api, "something is slow"))
    view = (await bot.api.wait_for("views.open")).response["view"]
    assert _initial(view, DECLARE_SERVICE) == "ecap-api"
    options = next(b for b in view["blocks"] if b.get("block_id") == DECLARE_PLAYBOOK)
    assert "api-down" in [o["value"] for o in options["element"]["options"]]


async def test_declaring_from_a_message_over_socket_mode(socket_bot: SocketBot) -> None:
    bot = socket_bot
    shortcut = _shortcut(bot.api)

    shortcut_ack = await bot.socket.wait_for_ack(await bot.socket.send_interactive(shortcut))
    view = (await bot.api.wait_for("views.open")).response["view"]
    submission = view_submission_payload(
        callback_id=DECLARE_VIEW,
        private_metadata=view["private_metadata"],
        state_values=_picked("api-down", "ecap-api"),
        user_id=ALICE,
    )
    submit_ack = await bot.socket.wait_for_ack(await bot.socket.send_interactive(submission))
    await bot.api.wait_for("pins.add")
    incident = await bot.engine.get("INC-0001")

    assert "payload" not in shortcut_ack and not submit_ack.get("payload")
    assert _initial(view, DECLARE_SERVICE) == "ecap-api"
    assert incident.service == "ecap-api" and "hunter2" not in incident.summary
    assert "https://runbook-test.slack.com/archives/C0GENERAL/p" in incident.summary
