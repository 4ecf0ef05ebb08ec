"""The headline's roles (a user picker each) and its severity menu."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)

from bot.adapters.slack.actions import ROLE, SEVERITY, ButtonValue
from bot.adapters.slack.rendering.escape import escape, is_user_id, mention
from bot.adapters.slack.rendering.parts import context
from bot.engine.headline import Headline
from bot.engine.roles import Seat
from bot.engine.severity import SEVERITIES, severity_label


def _holder(seat: Seat) -> str:
    return mention(seat.holder) if seat.holder else "_unassigned_"


def role_pickers(h: Headline) -> list[Block]:
    """One line per role with who holds it and a picker to hand it over; the block id says which
    role, since Slack gives a user picker no value of its own."""
    return [
        SectionBlock(
            block_id=ButtonValue(h.incident_id, role=seat.id).encode(),
            text=MarkdownTextObject(text=f"*{escape(seat.title).capitalize()}:* {_holder(seat)}"),
            accessory=UserSelectElement(
                action_id=ROLE,
                placeholder=PlainTextObject(text=f"Assign {seat.title}"[:150]),
                initial_user=seat.holder if is_user_id(seat.holder) else None,
            ),
        )
        for seat in h.roles
    ]


def roles_line(h: Headline) -> list[Block]:
    """The roles as one read-only line, where the pickers would not act."""
    if not h.roles:
        return []
    return [context(" · ".join(f"{escape(s.title)}: {_holder(s)}" for s in h.roles))]


def severity_menu(h: Headline) -> StaticSelectElement:
    """Pick a new severity; each option carries the incident and the level it sets."""
    options = {
        name: Option(
            value=ButtonValue(h.incident_id, level=level).encode(),
            text=PlainTextObject(text=severity_label(name)),
        )
        for level, name in SEVERITIES.items()
    }
    return StaticSelectElement(
        action_id=SEVERITY,
        placeholder=PlainTextObject(text="Change severity"),
        options=list(options.values()),
        initial_option=options.get(h.severity),
    )
