"""Small block builders shared by every Slack message: text, buttons, marks and people."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InteractiveElement,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.rendering.escape import is_user_id, mention, truncate
from bot.adapters.slack.rendering.limits import BUTTON_TEXT, FIELD_TEXT, HEADER_TEXT, SECTION_TEXT
from bot.adapters.slack.rendering.message import MAX_BLOCKS
from bot.engine.incident import Actor

MARK = {
    "ok": ":white_check_mark:",
    "problem": ":warning:",
    "error": ":x:",
    "skipped": ":fast_forward:",
}
SEVERITY = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}
# Context blocks take at most 10 elements and show each text small; keep each short.
_CONTEXT_TEXT = 2000


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=truncate(text, HEADER_TEXT), emoji=True))


def section(text: str, accessory: ButtonElement | None = None) -> SectionBlock:
    """A mrkdwn section; `text` is already escaped and is cut to Slack's limit."""
    return SectionBlock(
        text=MarkdownTextObject(text=truncate(text, SECTION_TEXT)), accessory=accessory
    )


def fields(pairs: list[tuple[str, str]]) -> SectionBlock:
    """A two-column section of `*label*\\nvalue` fields; values are already escaped."""
    return SectionBlock(
        fields=[MarkdownTextObject(text=truncate(f"*{k}*\n{v}", FIELD_TEXT)) for k, v in pairs]
    )


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, _CONTEXT_TEXT))])


def button(
    text: str,
    action_id: str,
    value: ButtonValue,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=truncate(text, BUTTON_TEXT), emoji=True),
        action_id=action_id,
        value=value.encode(),
        style=style,
        confirm=confirm,
    )


def actions(*elements: InteractiveElement) -> list[Block]:
    """An actions block, or nothing when there is no element (Slack rejects an empty one)."""
    return [ActionsBlock(elements=list(elements))] if elements else []


def who(actor: Actor) -> str:
    """A Slack user as a mention, anyone else by their escaped name."""
    return mention(actor.id) if is_user_id(actor.id) else mention(actor.label)


def when(moment: datetime) -> str:
    """A time every reader sees in their own time zone, with UTC as the fallback."""
    stamp = int(moment.timestamp())
    utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{utc}>"


def fit(blocks: list[Block], what: str) -> list[Block]:
    """At most MAX_BLOCKS blocks: the overflow is replaced by one line saying what was left out."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, context(f"_{len(blocks) - len(kept)} more {what} not shown_")]
