"""The limits Slack enforces on messages and modals, checked before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ELEMENTS = 25
MESSAGE_TEXT = 40000
VIEW_BLOCKS = 100
INPUT_INITIAL = 3000


@dataclass(frozen=True)
class Message:
    """A message ready to post: blocks plus the fallback text notifications and old clients show."""

    text: str
    blocks: list[Block]


def split(message: Message) -> list[Message]:
    """Messages of at most MAX_BLOCKS blocks each, in order, all with the same fallback text."""
    blocks = message.blocks
    if len(blocks) <= MAX_BLOCKS:
        return [message]
    return [
        Message(message.text, blocks[start : start + MAX_BLOCKS])
        for start in range(0, len(blocks), MAX_BLOCKS)
    ]


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
    blocks = view.blocks or []
    if len(blocks) > VIEW_BLOCKS:
        raise ValueError(f"a view holds at most {VIEW_BLOCKS} blocks, not {len(blocks)}")
    _check_blocks(blocks)


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
    kind = block["type"]
    if kind == "section":
        if len(block.get("text", {}).get("text", "")) > SECTION_TEXT:
            return f"section text exceeds {SECTION_TEXT} characters"
        fields = block.get("fields", [])
        if len(fields) > MAX_FIELDS:
            return f"a section holds at most {MAX_FIELDS} fields"
        if any(len(f["text"]) > FIELD_TEXT for f in fields):
            return f"a section field exceeds {FIELD_TEXT} characters"
    if kind == "header" and len(block["text"]["text"]) > HEADER_TEXT:
        return f"header text exceeds {HEADER_TEXT} characters"
    if kind == "actions":
        elements = block["elements"]
        if len(elements) > ACTION_ELEMENTS:
            return f"an actions block holds at most {ACTION_ELEMENTS} elements"
        ids = [e["action_id"] for e in elements if "action_id" in e]
        if len(ids) != len(set(ids)):
            return "duplicate action_id in one actions block"
    for node in _nodes(block):
        problem = _node_problem(node)
        if problem:
            return problem
    return None


def _node_problem(node: dict[str, Any]) -> str | None:
    kind = node.get("type")
    if kind in ("plain_text", "mrkdwn") and not str(node.get("text", "")).strip():
        return f"empty {kind} text"
    if kind == "button":
        if len(node["text"]["text"]) > BUTTON_TEXT:
            return f"button text exceeds {BUTTON_TEXT} characters"
        if len(node.get("value", "")) > BUTTON_VALUE:
            return f"button value exceeds {BUTTON_VALUE} characters"
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
