"""The answer to each kind of Slack request while the store is not answering: one line, in time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlencode

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.adapters.slack.transport.store_down import STORE_DOWN, store_down_response
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import (
    block_action_body,
    slash_command_body,
    view_submission_payload,
)

FORM: dict[str, str | Sequence[str]] = {"content-type": ["application/x-www-form-urlencoded"]}


def _request(body: bytes) -> AsyncBoltRequest:
    return AsyncBoltRequest(body=body.decode(), headers=FORM)


async def test_a_slash_command_gets_the_line_in_its_ack() -> None:
    response = store_down_response(
        _request(slash_command_body(response_url="http://127.0.0.1:1/r", text="list"))
    )
    assert response.status == 200
    assert json.loads(response.body) == {"response_type": "ephemeral", "text": STORE_DOWN}


async def test_a_modal_keeps_its_input_and_shows_the_line_under_it() -> None:
    payload = view_submission_payload(callback_id="rb.status_view", private_metadata="INC-0001")
    payload["view"]["blocks"] = [
        {"type": "section", "block_id": "intro"},
        {"type": "input", "block_id": "text.update"},
    ]
    body = urlencode({"payload": json.dumps(payload)}).encode()
    response = store_down_response(_request(body))
    assert response.status == 200
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {"text.update": STORE_DOWN},
    }


async def test_a_click_is_acked_empty_and_told_through_its_response_url() -> None:
    async with SlackApiStandIn() as api:
        body = block_action_body(
            action_id="rb.commander", value="{}", response_url=api.response_url("C0GENERAL")
        )
        response = store_down_response(_request(body))
        assert (response.status, response.body) == (200, "")
        told = await api.wait_for("response_url")
        assert told.params["text"] == STORE_DOWN
        assert told.params["response_type"] == "ephemeral"
