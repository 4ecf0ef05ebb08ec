"""The "Open an incident" modal a message shortcut opens: playbook, service, the message kept."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from slack_sdk.models.blocks import Block, InputBlock, Option, PlainTextObject, StaticSelectElement
from slack_sdk.models.views import View

from bot.adapters.slack.rendering.escape import shorten, truncate, unescape
from bot.adapters.slack.rendering.parts import section
from bot.playbooks.models import Playbook
from bot.redact import redact

# The message shortcut's callback id (manifest.yml), the modal's and its inputs.
SHORTCUT = "open_incident_from_message"
DECLARE_VIEW = "rb.declare_view"
DECLARE_PLAYBOOK = "rb.declare_playbook"
DECLARE_SERVICE = "rb.declare_service"
# Slack keeps at most 3000 characters of private_metadata; the quote is cut well below it.
_KEPT_TEXT = 1000
# Slack's limits on an option's label and value, and on a select's options.
_OPTION_TEXT = 75
_OPTION_VALUE = 150
_OPTIONS = 100


@dataclass(frozen=True)
class Source:
    """The message an incident is declared from, kept in the modal until it is submitted."""

    channel: str
    ts: str
    author: str
    text: str

    def dump(self) -> str:
        # It goes back out to Slack with the view: redacted like everything the bot shows.
        text = redact(self.text[:_KEPT_TEXT])
        kept = {"c": self.channel, "ts": self.ts, "u": self.author, "t": text}
        return json.dumps(kept, ensure_ascii=False)

    @classmethod
    def load(cls, metadata: str) -> Source:
        """ValueError when the metadata is not what `dump` wrote."""
        kept = json.loads(metadata)
        if not isinstance(kept, dict):
            raise ValueError("not a declared message")
        return cls(str(kept["c"]), str(kept["ts"]), str(kept.get("u", "")), str(kept.get("t", "")))


def named_service(text: str, services: list[str]) -> str:
    """The longest known service named in `text` as a whole word, or ""."""
    found = [
        s for s in services
        if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text, re.IGNORECASE)
    ]  # fmt: skip
    return max(found, key=len, default="")


def declare_modal(
    source: Source,
    playbooks: list[Playbook],
    services: list[str],
    playbook: str = "",
    service: str = "",
) -> View:
    """Pick the playbook and the service (prefilled when known); submitting opens the incident."""
    quoted = " ".join(unescape(source.text).split())
    blocks: list[Block] = [
        _select(DECLARE_PLAYBOOK, "Playbook", [(p.id, p.title) for p in playbooks], playbook),
        _select(DECLARE_SERVICE, "Service", [(s, s) for s in services], service),
        section("*From the message*\n>" + (shorten(quoted, 500) or "_empty_")),
    ]
    return View(
        type="modal",
        callback_id=DECLARE_VIEW,
        private_metadata=source.dump(),
        title=_plain("Open an incident"),
        submit=_plain("Open"),
        close=_plain("Cancel"),
        blocks=blocks,
    )


def _select(action_id: str, label: str, choices: list[tuple[str, str]], chosen: str) -> InputBlock:
    options = [
        Option(value=value[:_OPTION_VALUE], text=_plain(truncate(text, _OPTION_TEXT) or value))
        for value, text in choices[:_OPTIONS]
    ]
    initial = next((o for o, (v, _) in zip(options, choices, strict=False) if v == chosen), None)
    return InputBlock(
        block_id=action_id,
        label=_plain(label),
        element=StaticSelectElement(action_id=action_id, options=options, initial_option=initial),
    )


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text, emoji=True)
