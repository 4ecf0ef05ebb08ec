"""A long plain-text report (`/incident stats`) as code blocks of whole lines, over as many
messages as Slack needs, so no line is cut."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.adapters.slack.rendering.escape import escape
from bot.adapters.slack.rendering.limits import MESSAGE_TEXT, SECTION_TEXT
from bot.adapters.slack.rendering.message import MAX_BLOCKS, Message
from bot.adapters.slack.rendering.parts import section

_FENCE = "```"
# A section's escaped lines, leaving room for the fences.
SECTION_BODY = SECTION_TEXT - 100
# A longer line is shown in pieces; escaping makes a piece at most five times longer ("&amp;").
_PIECE = SECTION_BODY // 5
# A message's sections together, leaving room for the closing note; one block kept for it too.
_MESSAGE_BODY = MESSAGE_TEXT - SECTION_TEXT
_SECTIONS = MAX_BLOCKS - 1
# The fallback text notifications show.
_FALLBACK = 300


def report_messages(report: str, most: int) -> list[Message]:
    """The report in code-block sections over at most `most` messages, each within Slack's
    message limits; a report longer than that says, at its end, how many lines did not fit."""
    lines = _lines(report)
    messages: list[list[list[str]]] = [[]]
    for chunk in _chunks(lines):
        current = messages[-1]
        size = sum(len(line) + 1 for texts in current for line in texts)
        if current and (len(current) == _SECTIONS or size + len(_code(chunk)) > _MESSAGE_BODY):
            current = []
            messages.append(current)
        current.append(chunk)
    texts = [[_code(chunk) for chunk in message] for message in messages[:most]]
    if len(messages) > most:
        left = sum(len(chunk) for message in messages[most:] for chunk in message)
        texts[-1].append(f"_{left} more lines did not fit in Slack; `stats` in a terminal has all_")
    return [_message(message) for message in texts]


def _lines(report: str) -> list[str]:
    """The report's lines escaped, any too long for one section split into pieces."""
    pieces = []
    for line in report.splitlines() or [""]:
        pieces += [line[start : start + _PIECE] for start in range(0, len(line), _PIECE)] or [""]
    return [escape(piece) or " " for piece in pieces]


def _chunks(lines: list[str]) -> list[list[str]]:
    """The lines in runs that each fit one section."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        current = chunks[-1]
        if current and sum(len(s) + 1 for s in current) + len(line) > SECTION_BODY:
            current = []
            chunks.append(current)
        current.append(line)
    return chunks


def _code(chunk: list[str]) -> str:
    return _FENCE + "\n".join(chunk) + _FENCE


def _message(texts: list[str]) -> Message:
    blocks: list[Block] = [section(text) for text in texts]
    return Message(text=texts[0][:_FALLBACK], blocks=blocks)
