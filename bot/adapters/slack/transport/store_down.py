"""The answer to a Slack request that arrives while the incident store is not answering."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.store.bounded import NOT_ANSWERING

STORE_DOWN = f":warning: {NOT_ANSWERING}; nothing was done, try again in a moment"

logger = logging.getLogger(__name__)
# Replies sent after the ack, kept referenced until they finish.
_replies: set[asyncio.Task[None]] = set()


def store_down_response(req: AsyncBoltRequest) -> BoltResponse:
    """A 200 within Slack's deadline that tells only the sender, and runs nothing.

    A slash command shows the ack's own text; a modal keeps its input and shows the line under
    its first field; a click has only its response_url, reached after the ack.
    """
    body: dict[str, Any] = req.body if isinstance(req.body, dict) else {}
    if body.get("command"):
        return _json({"response_type": "ephemeral", "text": STORE_DOWN})
    return told_after_ack(req, STORE_DOWN)


def told_after_ack(req: AsyncBoltRequest, line: str) -> BoltResponse:
    """An empty 200 (a modal: `line` under its first field), and `line` to the sender through
    the request's response_url, after the ack; logged when there is neither."""
    body: dict[str, Any] = req.body if isinstance(req.body, dict) else {}
    if body.get("type") == "view_submission":
        block = _first_input(body.get("view") or {})
        if block:
            return _json({"response_action": "errors", "errors": {block: line}})
    respond = req.context.respond
    if respond is not None:
        task = asyncio.ensure_future(_reply(respond, line))
        _replies.add(task)
        task.add_done_callback(_replies.discard)
    else:
        logger.warning("could not tell the sender: %s", line)
    return BoltResponse(status=200, body="")


async def _reply(respond: Any, line: str) -> None:
    try:
        await respond(text=line, response_type="ephemeral", replace_original=False)
    except Exception as exc:
        logger.warning("could not tell the sender (%s): %s", type(exc).__name__, line)


def _first_input(view: dict[str, Any]) -> str:
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return ""


def _json(payload: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
    )
