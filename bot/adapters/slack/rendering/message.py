"""A Slack message ready to post, and its split into messages Slack accepts (50 blocks each)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject

# Slack refuses a message of more blocks; slack_sdk does not check it.
MAX_BLOCKS = 50


@dataclass(frozen=True)
class Message:
    """A message ready to post: blocks plus the fallback text notifications and old clients show."""

    text: str
    blocks: list[Block]


DRILL_MARK = ":test_tube: *DRILL*: a game day against a sandbox; nothing here is real"


def drill_marked(message: Message) -> Message:
    """The message as a drill's room shows it: said to be a drill, in its text and on top."""
    mark = ContextBlock(elements=[MarkdownTextObject(text=DRILL_MARK)])
    return Message(f"DRILL: {message.text}", [mark, *message.blocks])


def split(message: Message) -> list[Message]:
    """Messages of at most MAX_BLOCKS blocks each, in order, all with the same fallback text."""
    blocks = message.blocks
    if len(blocks) <= MAX_BLOCKS:
        return [message]
    return [
        Message(message.text, blocks[start : start + MAX_BLOCKS])
        for start in range(0, len(blocks), MAX_BLOCKS)
    ]
