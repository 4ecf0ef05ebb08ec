"""The post-incident checklist in Slack: one message per checklist, ticked and owned in place."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    UserSelectElement,
)

from bot.adapters.slack import actions
from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.api_errors import api_error
from bot.adapters.slack.context import SlackContext, text_message
from bot.adapters.slack.rendering.escape import escape, is_user_id, mention, truncate
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rendering.parts import context, fit, section, when
from bot.adapters.slack.rooms import CHANNEL, HEADLINE
from bot.adapters.slack.scope import require_its_room
from bot.engine import checklist
from bot.engine.incident import Actor, ChecklistItem, Incident
from bot.errors import InvalidRequest
from bot.integrations import tickets
from bot.integrations.errors import IntegrationError
from bot.playbooks.models import Checklist

# Slack's limits: a checkboxes element holds 10 options, an option's text 75 characters.
_OPTIONS = 10
_OPTION_TEXT = 75
LINK = "slack.checklist."
log = logging.getLogger(__name__)

Handler = Callable[[SlackContext, dict[str, Any], Actor], Awaitable[None]]


def checklist_message(incident: Incident, found: Checklist, now: datetime) -> Message:
    """Title and due date, the items as checkboxes, and an owner picker per item."""
    tasks = checklist.tasks(found, incident)
    blocks: list[Block] = [
        section(f"*{escape(found.title)}* · due {when(checklist.due(found, incident, now))}")
    ]
    for chunk, start in enumerate(range(0, len(tasks), _OPTIONS)):
        options = [_option(t) for t in tasks[start : start + _OPTIONS]]
        done = [o for o, t in zip(options, tasks[start:], strict=False) if t.state.done]
        element = CheckboxesElement(
            action_id=actions.CHECKLIST, options=options, initial_options=done or None
        )
        value = ButtonValue(incident.id, step=found.id, level=chunk)
        blocks.append(ActionsBlock(block_id=value.encode(), elements=[element]))
    for task in tasks:
        owner = task.state.owner
        ticket = task.state.ticket
        picker = UserSelectElement(
            action_id=actions.CHECKLIST_OWNER,
            placeholder=PlainTextObject(text="Choose an owner"),
            initial_user=owner if is_user_id(owner) else None,
        )
        blocks.append(
            SectionBlock(
                block_id=ButtonValue(incident.id, step=task.key).encode(),
                text=MarkdownTextObject(
                    text=f"{escape(truncate(task.text, 200))}: "
                    + (mention(owner) if owner else "_no owner_")
                    + (f" · {ticket_link(ticket)}" if ticket else "")
                ),
                accessory=picker,
            )
        )
        if not ticket:
            button = ButtonElement(
                text="Create ticket",
                action_id=actions.CHECKLIST_TICKET,
                value=ButtonValue(incident.id, step=task.key).encode(),
            )
            blocks.append(ActionsBlock(block_id=f"ticket.{task.key}", elements=[button]))
    blocks.append(context(f"{escape(incident.id)} post-incident checklist"))
    return Message(text=f"{incident.id}: {found.title}", blocks=fit(blocks, "items"))


def ticket_link(url: str) -> str:
    """A follow-up ticket's link, as a link when it is a plain https URL."""
    if url.startswith(("https://", "http://")) and not any(c in url for c in "<>| \n"):
        return f"<{url.replace('&', '&amp;')}|ticket>"
    return f"ticket {escape(url)}"


def _option(task: checklist.Task) -> Option:
    done_by = f"done by {task.state.done_by}" if task.state.done else ""
    return Option(
        value=task.key,
        text=PlainTextObject(text=truncate(task.text, _OPTION_TEXT)),
        description=PlainTextObject(text=truncate(done_by, _OPTION_TEXT)) if done_by else None,
    )


async def post_checklists(ctx: SlackContext, incident: Incident) -> None:
    """One message per checklist, remembered so every change edits it in place."""
    links = {}
    for found in checklist.applicable(ctx.engine.playbook_for(incident), incident):
        message = checklist_message(incident, found, ctx.engine.clock())
        links[LINK + found.id] = await ctx.rooms.post(incident, message)
    if links:
        await ctx.engine.set_links(incident.id, links)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    """Their own listeners: unlike other buttons these work once the incident is resolved."""
    app.action(actions.CHECKLIST)(_listener(ctx, "checklist", _checked))
    app.action(actions.CHECKLIST_OWNER)(_listener(ctx, "checklist owner", _owned))
    app.action(actions.CHECKLIST_TICKET)(_listener(ctx, "ticket", _ticket))


def _listener(ctx: SlackContext, what: str, handler: Handler) -> Callable[..., Awaitable[None]]:
    async def listener(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        channel = _channel(body)
        user = str((body.get("user") or {}).get("id", ""))

        async def work() -> None:
            name = str((body.get("user") or {}).get("name", ""))
            await handler(ctx, body, await ctx.identities.actor(user, name))

        await ctx.guard(channel, user, work, what, respond)

    return listener


def _channel(body: dict[str, Any]) -> str:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    return str(channel)


async def _checked(ctx: SlackContext, body: dict[str, Any], actor: Actor) -> None:
    """Bolt sends the element's whole selection: tick and untick what differs from the store."""
    action = (body.get("actions") or [{}])[0]
    value = ButtonValue.decode(action.get("block_id"))
    incident = await ctx.engine.get(value.incident)
    require_its_room(incident, _channel(body), "checklists")
    found = _checklist(ctx, incident, value.step)
    start = max(value.level, 0) * _OPTIONS
    shown = checklist.tasks(found, incident)[start : start + _OPTIONS]
    selected = {str(o.get("value")) for o in action.get("selected_options") or []}
    for task in shown:
        if task.state.done != (task.key in selected):
            incident = await ctx.engine.check_item(
                incident.id, task.key, actor, task.key in selected
            )
    await _refresh(ctx, incident, found, body)


async def _owned(ctx: SlackContext, body: dict[str, Any], actor: Actor) -> None:
    action = (body.get("actions") or [{}])[0]
    value = ButtonValue.decode(action.get("block_id"))
    owner = str(action.get("selected_user") or "")
    if not is_user_id(owner):
        raise InvalidRequest("choose a person to own this item")
    incident = await ctx.engine.get(value.incident)
    require_its_room(incident, _channel(body), "checklists")
    found, _ = checklist.find(ctx.engine.playbook_for(incident), value.step)
    incident = await ctx.engine.assign_item(incident.id, value.step, owner, actor)
    await _refresh(ctx, incident, found, body)


def _checklist(ctx: SlackContext, incident: Incident, checklist_id: str) -> Checklist:
    for found in ctx.engine.playbook_for(incident).post_incident:
        if found.id == checklist_id:
            return found
    raise InvalidRequest(f"no checklist '{checklist_id[:60]}' in this playbook")


async def _refresh(
    ctx: SlackContext, incident: Incident, found: Checklist, body: dict[str, Any]
) -> None:
    clicked = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get(
        "ts", ""
    )
    ts = incident.links.get(LINK + found.id) or str(clicked)
    if ts:
        await ctx.rooms.update(incident, ts, checklist_message(incident, found, ctx.engine.clock()))


async def _ticket(ctx: SlackContext, body: dict[str, Any], actor: Actor) -> None:
    """File the item in the tracker once; a failure is one line in the room; the button stays."""
    action = (body.get("actions") or [{}])[0]
    value = ButtonValue.decode(action.get("value"))
    incident = await ctx.engine.get(value.incident)
    require_its_room(incident, _channel(body), "checklists")
    found, text = checklist.find(ctx.engine.playbook_for(incident), value.step)
    link = await _room_link(ctx, incident)
    owner = await _owner_named(ctx, incident.checklist.get(value.step, ChecklistItem()).owner)
    try:
        incident = await tickets.file_ticket(
            ctx.engine, incident, value.step, actor, link, owner=owner
        )
    except IntegrationError as exc:
        line = f":warning: no ticket for '{truncate(text, 80)}': {str(exc).splitlines()[0]}"
        await ctx.rooms.post(incident, text_message(line))
        return
    await _refresh(ctx, incident, found, body)


async def _owner_named(ctx: SlackContext, owner: str) -> str:
    """The owner as a ticket names them: "Name (U…)", the ID alone when Slack gives no name."""
    if not is_user_id(owner):
        return owner
    name = await ctx.identities.name(owner)
    return f"{name} ({owner})" if name else owner


async def _room_link(ctx: SlackContext, incident: Incident) -> str:
    """The room's headline permalink, or the incident and channel id when Slack gives none."""
    channel, headline = incident.links.get(CHANNEL, ""), incident.links.get(HEADLINE, "")
    if channel and headline:
        try:
            answer = await ctx.rooms.client.chat_getPermalink(channel=channel, message_ts=headline)
            if answer.get("permalink"):
                return str(answer["permalink"])
        except SlackApiError as exc:
            log.info("no permalink for %s: %s", incident.id, api_error(exc))
    return f"{incident.id} (Slack channel {channel})" if channel else incident.id
