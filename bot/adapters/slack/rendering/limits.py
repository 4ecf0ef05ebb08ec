"""Slack's size limits that rendering fits text into, and the checks slack_sdk leaves to us.

`to_dict()` already enforces each block's own limits (section text, fields per section, header
and button text, button values, elements per actions block, blocks per view); Slack also refuses
what is checked here: more than 50 blocks in a message, a repeated block or action id, a long
section field or input value, empty text, empty or oversized fallback text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.adapters.slack.rendering.message import MAX_BLOCKS, Message

SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
MESSAGE_TEXT = 40000
INPUT_INITIAL = 3000


def validate(message: Message) -> None:
    """Raise ValueError naming the first limit the message breaks."""
    if not message.text.strip():
        raise ValueError("fallback text must not be empty")
    if len(message.text) > MESSAGE_TEXT:
        raise ValueError(f"fallback text exceeds {MESSAGE_TEXT} characters")
    if len(message.blocks) > MAX_BLOCKS:
        raise ValueError(f"a message holds at most {MAX_BLOCKS} blocks, not {len(message.blocks)}")
    _check_blocks(message.blocks)


def validate_view(view: View) -> None:
    """Raise ValueError naming the first limit the modal breaks."""
    try:
        view.validate_json()
    except SlackObjectFormationError as err:
        raise ValueError(f"view: {err}") from None
    _check_blocks(view.blocks or [])


def _check_blocks(blocks: Sequence[Block]) -> None:
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"block {index} ({block.type})"
        try:
            data = block.to_dict()  # runs the SDK's validators, nested elements included
        except SlackObjectFormationError as err:
            raise ValueError(f"{where}: {err}") from None
        block_id = data.get("block_id")
        if block_id is not None:
            if block_id in seen:
                raise ValueError(f"{where}: duplicate block_id {block_id!r}")
            seen.add(block_id)
        problem = _block_problem(data)
        if problem:
            raise ValueError(f"{where}: {problem}")


def _block_problem(block: dict[str, Any]) -> str | None:
    if any(len(f["text"]) > FIELD_TEXT for f in block.get("fields", [])):
        return f"a section field exceeds {FIELD_TEXT} characters"
    if block["type"] == "actions":
        ids = [e["action_id"] for e in block["elements"] if "action_id" in e]
        if len(ids) != len(set(ids)):
            return "duplicate action_id in one actions block"
    for node in _nodes(block):
        kind = node.get("type")
        if kind in ("plain_text", "mrkdwn") and not str(node.get("text", "")).strip():
            return f"empty {kind} text"
        if kind == "plain_text_input" and len(node.get("initial_value", "")) > INPUT_INITIAL:
            return f"plain_text_input initial_value exceeds {INPUT_INITIAL} characters"
    return None


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)
