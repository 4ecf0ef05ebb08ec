"""The message shortcut "Open an incident": a modal picks the playbook and service, and the
incident's summary links and quotes the message it was declared from."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.adapters.slack import room_repair
from bot.adapters.slack.api_errors import api_error
from bot.adapters.slack.context import SlackContext, field
from bot.adapters.slack.rendering.declare_modal import (
    DECLARE_PLAYBOOK,
    DECLARE_SERVICE,
    DECLARE_VIEW,
    SHORTCUT,
    Source,
    declare_modal,
    named_service,
)
from bot.adapters.slack.rendering.escape import truncate, unescape

log = logging.getLogger(__name__)

# The quote in the summary; the engine keeps 500 characters of a summary in all.
QUOTE = 300


def summary_of(source: Source, permalink: str) -> str:
    """Plain text: the engine redacts it when it is stored, every rendering escapes it."""
    quote = truncate(" ".join(unescape(source.text).split()), QUOTE)
    where = permalink or f"a message in {source.channel}"
    return f'Declared from {where} by {source.author or "someone"}: "{quote}"'


def _selected(values: dict[str, Any], action_id: str) -> str:
    return str((field(values, action_id).get("selected_option") or {}).get("value", ""))


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.shortcut(SHORTCUT)
    async def open_from_message(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        message = shortcut.get("message") or {}
        source = Source(
            channel=str((shortcut.get("channel") or {}).get("id", "")),
            ts=str(message.get("ts") or shortcut.get("message_ts") or ""),
            author=str(message.get("user") or message.get("username") or ""),
            text=str(message.get("text") or ""),
        )
        services = sorted(ctx.config.services)
        service = named_service(unescape(source.text), services)
        if not service and len(services) == 1:
            service = services[0]
        bound = ctx.config.services[service].playbooks if service else []
        playbooks = list(ctx.engine.playbooks.values())
        playbook = bound[0] if bound else (playbooks[0].id if len(playbooks) == 1 else "")
        view = declare_modal(source, playbooks, services, playbook, service)
        try:
            # The trigger id is valid for 3 seconds: nothing slow comes before this.
            await ctx.rooms.client.views_open(trigger_id=str(shortcut["trigger_id"]), view=view)
        except SlackApiError as exc:
            log.warning("could not open the declare modal: %s", api_error(exc))

    @app.view(DECLARE_VIEW)
    async def declared(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        playbook, service = _selected(values, DECLARE_PLAYBOOK), _selected(values, DECLARE_SERVICE)
        user = str((body.get("user") or {}).get("id", ""))
        try:
            source = Source.load(str(view.get("private_metadata", "")))
        except (ValueError, KeyError):
            await ack(response_action="errors", errors={DECLARE_PLAYBOOK: "the message was lost"})
            return
        if playbook not in ctx.engine.playbooks:
            known = ", ".join(sorted(ctx.engine.playbooks))
            line = f"no playbook '{playbook[:40]}' (known: {known})"
            await ack(response_action="errors", errors={DECLARE_PLAYBOOK: line[:150]})
            return
        if service not in ctx.config.services:
            line = f"no service '{service[:40]}'"
            await ack(response_action="errors", errors={DECLARE_SERVICE: line})
            return
        await ack()

        async def work() -> None:
            actor = await ctx.identities.actor(user)
            permalink = await _permalink(ctx, source)
            summary = summary_of(source, permalink)
            incident = await ctx.engine.open(playbook, service, actor, summary)
            incident = await room_repair.open_room(ctx.rooms, incident, user, source.channel)
            note = f"Opened {incident.id}: <#{incident.links['slack.channel']}>"
            await ctx.tell(source.channel, user, note)

        await ctx.guard(source.channel, user, work, "opening the incident")


async def _permalink(ctx: SlackContext, source: Source) -> str:
    """The message's link; "" when Slack will not give one (a channel the bot cannot see)."""
    try:
        answer = await ctx.rooms.client.chat_getPermalink(
            channel=source.channel, message_ts=source.ts
        )
    except SlackApiError as exc:
        log.info("no permalink for %s in %s: %s", source.ts, source.channel, api_error(exc))
        return ""
    return str(answer.get("permalink") or "")
