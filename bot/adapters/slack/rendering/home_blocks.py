"""The bot's Home tab: open incidents, approvals waiting for the viewer, the viewer's checklist
items, each with a link button to where it lives in Slack."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import Block, ButtonElement, DividerBlock, PlainTextObject
from slack_sdk.models.views import View

from bot.adapters.slack.rendering.escape import escape, mention, shorten
from bot.adapters.slack.rendering.parts import SEVERITY, context, fit, header, section
from bot.engine.headline import Headline

# Link buttons still send a block_actions payload, which this id's listener only acknowledges.
HOME_LINK = "rb.home_link"
# Each list is cut here, so the whole view stays within Slack's 100 blocks for a Home tab.
MAX_EACH = 15


@dataclass(frozen=True)
class Row:
    """One line of the Home tab and where its button leads ("" when Slack gave no link)."""

    text: str
    url: str
    label: str


def incident_row(h: Headline, url: str) -> Row:
    """Severity, stage, commander (if any), age and the next escalation of an open incident."""
    mark = SEVERITY.get(h.severity, ":white_circle:")
    commander = f" · commander {mention(h.commander)}" if h.commander != "unclaimed" else ""
    text = (
        f"{mark} *{escape(h.incident_id)}* · {escape(h.title)} · `{escape(h.service)}` · "
        f"{escape(h.severity)}\nstage {h.stage_number}/{h.stage_count}: {escape(h.stage)}"
        f"{commander} · open {escape(h.elapsed)}\nnext escalation: {escape(h.next_escalation)}"
    )
    return Row(text, url, "Open room")


def approval_row(incident_id: str, approval_id: str, title: str, requester: str, url: str) -> Row:
    text = (
        f"*{escape(incident_id)} · {escape(approval_id)}* · {shorten(title, 200)} · "
        f"requested by {mention(requester)}"
    )
    return Row(text, url, "Review")


def task_row(incident_id: str, text: str, url: str) -> Row:
    return Row(f"*{escape(incident_id)}* · {shorten(text, 300)}", url, "Open checklist")


def home_view(incidents: list[Row], approvals: list[Row], tasks: list[Row]) -> View:
    blocks: list[Block] = [
        *_part("Open incidents", incidents, "No open incidents."),
        DividerBlock(),
        *_part("Approvals waiting for you", approvals, "Nothing to approve."),
        DividerBlock(),
        *_part("Your checklist items", tasks, "No open checklist items of yours."),
    ]
    return View(type="home", blocks=fit(blocks, "items"))


def _part(title: str, rows: list[Row], empty: str) -> list[Block]:
    blocks: list[Block] = [header(title)]
    if not rows:
        return [*blocks, context(f"_{empty}_")]
    for row in rows[:MAX_EACH]:
        button = (
            ButtonElement(text=PlainTextObject(text=row.label), action_id=HOME_LINK, url=row.url)
            if row.url
            else None
        )
        blocks.append(section(row.text, accessory=button))
    if len(rows) > MAX_EACH:
        blocks.append(context(f"_{len(rows) - MAX_EACH} more not shown_"))
    return blocks
