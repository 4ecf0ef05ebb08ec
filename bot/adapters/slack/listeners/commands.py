"""`/incident`: open, drill, list, status, resolve, timeline, stats, help."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.adapters.slack import intake, room_repair
from bot.adapters.slack.context import SlackContext, text_message
from bot.adapters.slack.rendering import blocks, modals
from bot.adapters.slack.rendering.escape import escape
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rendering.report import report_messages
from bot.adapters.slack.rooms import ORIGIN, ROOM_PENDING
from bot.adapters.slack.scope import in_its_room
from bot.adapters.text import render_stats
from bot.engine.headline import headline
from bot.engine.incident import Incident
from bot.engine.severity import split_severity
from bot.errors import BotError, InvalidRequest

# Slack sends at most a few thousand characters; anything past this is not a summary.
MAX_COMMAND_TEXT = 2000
# Slack takes five messages on a command's response_url (within 30 minutes) after the ack.
RESPONSE_URL_USES = 5


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.command("/incident")
    async def incident_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        text = str(command.get("text") or "").strip()
        words = text.split()
        sub = words[0].lower() if words else "help"
        user, channel = str(command["user_id"]), str(command["channel_id"])
        if len(text) > MAX_COMMAND_TEXT:
            await _ack_message(
                ack,
                blocks_error(f"that is {len(text)} characters; keep it under {MAX_COMMAND_TEXT}"),
            )
            return
        if sub == "help":
            await _ack_message(ack, _help(ctx))
        elif sub == "list":
            try:
                incidents = await ctx.engine.list_incidents("open")
            except BotError as exc:
                await _ack_message(ack, blocks_error(str(exc)))
                return
            notes = {i.id: "room pending" for i in incidents if room_repair.pending(i)}
            message = blocks.incident_list_message(
                incidents, ctx.engine.playbooks, ctx.engine.clock(), notes
            )
            await _ack_message(ack, message)
        elif sub == "stats":
            first, *more = await _stats(ctx, words[1:])
            await _ack_message(ack, first)
            for message in more:
                await respond(
                    text=message.text,
                    blocks=[b.to_dict() for b in message.blocks],
                    response_type="ephemeral",
                    replace_original=False,
                )
        elif sub == "drill":
            await _drill(ack, respond, ctx, words[1:], user, channel)
        elif sub in ("status", "timeline", "resolve"):
            await _ack_about_incident(ack, ctx, sub, words[1:], user, channel, command)
        else:
            await _open(ack, respond, ctx, words, user, channel)


async def _stats(ctx: SlackContext, args: list[str]) -> list[Message]:
    """Response times and fix outcomes, for the one who asked: the ack, then follow-ups."""
    try:
        if len(args) > 1:
            raise InvalidRequest("usage: /incident stats [7d|30d|90d]")
        stats = await ctx.engine.stats(args[0] if args else None)
    except BotError as exc:
        return [blocks_error(str(exc))]
    # Playbook and service names are the operators' own; still only text in code blocks.
    return report_messages(render_stats(stats), 1 + RESPONSE_URL_USES)


async def _ack_about_incident(
    ack: AsyncAck,
    ctx: SlackContext,
    sub: str,
    args: list[str],
    user: str,
    channel: str,
    command: dict[str, Any],
) -> None:
    try:
        incident = await ctx.incident_here(channel, args[0] if args else None)
    except BotError as exc:
        await _ack_message(ack, blocks_error(str(exc)))
        return
    if room_repair.pending(incident):
        await _ack_room_pending(ack, ctx, sub, incident, user, channel)
    elif sub == "status":
        playbook = ctx.engine.playbook_for(incident)
        h = headline(incident, playbook, ctx.engine.clock())
        resolved, here = incident.status != "open", in_its_room(incident, channel)
        await _ack_message(ack, blocks.headline_message(h, resolved=resolved, read_only=not here))
    elif sub == "resolve" and not in_its_room(incident, channel):
        await _ack_message(ack, blocks_error(f"resolve {incident.id} in its room"))
    elif sub == "resolve":
        if incident.status != "open":
            await _ack_message(ack, blocks_error(f"{incident.id} is already {incident.status}"))
            return
        await ack()
        # The trigger id is valid for 3 seconds: open the modal before anything slow.
        await ctx.rooms.client.views_open(
            trigger_id=command["trigger_id"], view=modals.resolve_modal(incident.id)
        )
    else:
        await ack()
        await ctx.guard(
            channel,
            user,
            lambda: ctx.rooms.upload(
                incident,
                f"timeline-{incident.id}",
                blocks.timeline_text(incident),
                incident.links.get("slack.headline_ts", ""),
            ),
            "exporting the timeline",
        )


async def _ack_room_pending(
    ack: AsyncAck, ctx: SlackContext, sub: str, incident: Incident, user: str, channel: str
) -> None:
    """Say the room is pending (with the read-only status), then try to make it."""
    note = blocks_error(room_repair.pending_note(incident))
    if sub == "status":
        playbook = ctx.engine.playbook_for(incident)
        h = headline(incident, playbook, ctx.engine.clock())
        shown = blocks.headline_message(h, read_only=True)
        note = Message(text=note.text, blocks=[*note.blocks, *shown.blocks])
    await _ack_message(ack, note)

    async def repair() -> None:
        await room_repair.ensure_room(ctx.rooms, incident)

    await ctx.guard(channel, user, repair, "opening the room")


async def _open(
    ack: AsyncAck,
    respond: AsyncRespond,
    ctx: SlackContext,
    words: list[str],
    user: str,
    channel: str,
) -> None:
    try:
        words, severity = split_severity(words)
    except BotError as exc:
        await _ack_message(ack, blocks_error(str(exc)))
        return
    playbook_id = words[0].lower() if words else ""
    services = sorted(ctx.config.services)
    if playbook_id not in ctx.engine.playbooks:
        await _ack_message(ack, _help(ctx, f"There is no playbook '{playbook_id[:40]}'."))
        return
    rest = words[1:]
    # A summary only ever follows a service, so a mistyped service is never taken for one.
    if rest and rest[0] in ctx.config.services:
        service, summary = rest[0], " ".join(rest[1:])
    elif not rest and len(services) == 1:
        service, summary = services[0], ""
    else:
        unknown = f"There is no service '{rest[0][:40]}'." if rest else "Name the service."
        await _ack_message(ack, _help(ctx, unknown))
        return

    async def decide() -> Incident:
        actor = await ctx.identities.actor(user)
        # Stored room pending, so if this process dies after the ack any replica's room repair
        # makes the room.
        with intake.deciding():
            return await ctx.engine.open(
                playbook_id, service, actor, summary, severity, _room_to_make(channel)
            )

    opening = asyncio.ensure_future(ctx.admission.run(decide))
    await intake.until_decided(opening)
    failed = opening.exception() if opening.done() else None
    if isinstance(failed, intake.StaleRequest):
        # Slack has given up on this ack: only the response_url reaches the sender now.
        await ack()
        await ctx.tell(channel, user, f":warning: {escape(str(failed))}", respond)
        return
    if isinstance(failed, BotError):
        await _ack_message(ack, blocks_error(str(failed)))
        return
    if opening.done() and failed is None:
        opened = opening.result()
        await ack(
            response_type="ephemeral",
            text=f"Opening {opened.id}, a {playbook_id} incident for {service}: making its room …",
        )
    else:
        # Still deciding at the budget's end (or failed unexpectedly): the outcome follows.
        await ack(
            response_type="ephemeral", text=f"Opening a {playbook_id} incident for {service} …"
        )
    await intake.after_ack()

    async def work() -> None:
        incident = await opening
        incident = await room_repair.ensure_room(ctx.rooms, incident)
        await respond(
            response_type="ephemeral",
            text=f"Opened {incident.id}: <#{incident.links['slack.channel']}>",
        )

    await ctx.guard(channel, user, work, "opening the incident", respond)


def _room_to_make(origin: str) -> dict[str, str]:
    return {ROOM_PENDING: room_repair.OPENING, ORIGIN: origin}


async def _drill(
    ack: AsyncAck,
    respond: AsyncRespond,
    ctx: SlackContext,
    args: list[str],
    user: str,
    channel: str,
) -> None:
    """A game day: a drill incident in its own room, against a sandbox of its own."""
    sandboxes = ctx.sandboxes
    try:
        if sandboxes is None:
            raise InvalidRequest("drills are not offered by this bot")
        playbook_id, scenario = drill_args(args)
        chosen = sandboxes.scenario(playbook_id, scenario)
    except BotError as exc:
        await _ack_message(ack, blocks_error(str(exc)))
        return
    await ack(
        response_type="ephemeral",
        text=f"Starting a DRILL of {playbook_id} (scenario {chosen}) in its own sandbox …",
    )

    async def work() -> None:
        actor = await ctx.identities.actor(user)
        incident = await sandboxes.open(playbook_id, chosen, actor)
        incident = await room_repair.open_room(ctx.rooms, incident, user, channel)
        await respond(
            response_type="ephemeral",
            text=f"Opened DRILL {incident.id}: <#{incident.links['slack.channel']}>",
        )

    await ctx.guard(channel, user, work, "starting the drill", respond)


def drill_args(args: list[str]) -> tuple[str, str | None]:
    """`PLAYBOOK [--scenario S]` as (playbook, scenario or None); anything else is refused."""
    usage = InvalidRequest("usage: /incident drill PLAYBOOK [--scenario S]")
    if not args or args[0].startswith("-"):
        raise usage
    rest = args[1:]
    if not rest:
        return args[0].lower(), None
    if len(rest) == 2 and rest[0] == "--scenario":
        return args[0].lower(), rest[1]
    if len(rest) == 1 and rest[0].startswith("--scenario="):
        return args[0].lower(), rest[0].removeprefix("--scenario=")
    raise usage


def _help(ctx: SlackContext, problem: str = "") -> Message:
    message = blocks.help_message(ctx.engine.playbooks, sorted(ctx.config.services))
    if problem:
        prefix = f":warning: {escape(problem)} "
        return Message(text=prefix + message.text, blocks=message.blocks)
    return message


def blocks_error(text: str) -> Message:
    return text_message(f":warning: {text}")


async def _ack_message(ack: AsyncAck, message: Message) -> None:
    await ack(
        response_type="ephemeral",
        text=message.text,
        blocks=[b.to_dict() for b in message.blocks],
    )
