"""Listeners for the status-update and resolve modals: open, re-render on a template change,
and submit (post the update, or resolve and post the summary and checklists)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.adapters.slack import actions, intake
from bot.adapters.slack.context import SlackContext, field, markup_message, text_message
from bot.adapters.slack.listeners.checklists import post_checklists
from bot.adapters.slack.rendering import modals
from bot.adapters.slack.rendering.escape import escape
from bot.adapters.slack.rendering.summary import resolution_message
from bot.config import Channels
from bot.engine.audience import audience_label
from bot.engine.incident import Incident
from bot.errors import BotError, InvalidRequest
from bot.playbooks.models import Audience, CommunicationStep

log = logging.getLogger(__name__)


def _choices(ctx: SlackContext, incident: Incident) -> list[tuple[str, str]]:
    playbook = ctx.engine.playbook_for(incident)
    return [(key, c.title) for key, c in playbook.communications.items()]


async def _render_view(ctx: SlackContext, incident: Incident, chosen: str, eta: str) -> modals.View:
    playbook = ctx.engine.playbook_for(incident)
    needs_eta = "eta" in playbook.communications[chosen].needs
    try:
        # Until the responder types an ETA the text carries "[ETA]", replaced on submit.
        text = await ctx.engine.render_status(
            incident.id, chosen, eta or ("[ETA]" if needs_eta else "")
        )
    except BotError as exc:
        text = f"(could not fill the template: {exc})"
    return modals.status_modal(
        incident.id, _choices(ctx, incident), chosen, text, eta, needs_eta, preview=text
    )


async def open_status_modal(
    ctx: SlackContext, incident: Incident, step_id: str, trigger_id: str
) -> None:
    """Open the modal prefilled with the step's template (or the playbook's first)."""
    playbook = ctx.engine.playbook_for(incident)
    if not playbook.communications:
        raise InvalidRequest("this playbook has no status templates")
    chosen = next(iter(playbook.communications))
    found = playbook.find_step(step_id) if step_id else None
    if found is not None and isinstance(found[1], CommunicationStep):
        chosen = found[1].template
    view = await _render_view(ctx, incident, chosen, "")
    await ctx.rooms.client.views_open(trigger_id=trigger_id, view=view)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    @app.action(actions.STATUS_TEMPLATE)
    async def template_changed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        view = body.get("view") or {}
        try:
            incident = await ctx.engine.get(str(view.get("private_metadata", "")))
            values = (view.get("state") or {}).get("values") or {}
            chosen = str(
                (field(values, actions.STATUS_TEMPLATE).get("selected_option") or {}).get(
                    "value", ""
                )
            )
            eta = str(field(values, actions.STATUS_ETA).get("value") or "")
            if chosen not in ctx.engine.playbook_for(incident).communications:
                return
            await ctx.rooms.client.views_update(
                view_id=str(view["id"]),
                hash=str(view.get("hash", "")),
                view=await _render_view(ctx, incident, chosen, eta),
            )
        except (BotError, KeyError) as exc:
            log.info("status modal not re-rendered: %s", exc)

    @app.view(actions.STATUS_VIEW)
    async def status_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        chosen = str(
            (field(values, actions.STATUS_TEMPLATE).get("selected_option") or {}).get("value", "")
        )
        eta = str(field(values, actions.STATUS_ETA).get("value") or "").strip()
        text = str(field(values, actions.STATUS_TEXT).get("value") or "").strip()
        user = str((body.get("user") or {}).get("id", ""))
        try:
            incident = await ctx.engine.get(str(view.get("private_metadata", "")))
            playbook = ctx.engine.playbook_for(incident)
        except BotError as exc:
            await ack(
                response_action="errors", errors={_block_of(view, actions.STATUS_TEXT): str(exc)}
            )
            return
        communication = playbook.communications.get(chosen)
        if communication is None:
            await ack(
                response_action="errors",
                errors={_block_of(view, actions.STATUS_TEMPLATE): "choose a template"},
            )
            return
        if "eta" in communication.needs and not eta:
            await ack(
                response_action="errors",
                errors={_block_of(view, actions.STATUS_ETA): "this update needs an ETA"},
            )
            return
        if not text:
            await ack(
                response_action="errors",
                errors={_block_of(view, actions.STATUS_TEXT): "the update is empty"},
            )
            return

        async def work() -> None:
            actor = await ctx.identities.actor(user)
            with intake.deciding():
                updated = await ctx.engine.post_status(
                    incident.id, chosen, text.replace("[ETA]", eta), actor
                )
            posted = text_message(text.replace("[ETA]", eta))
            # The room keeps the record; other channels get only what is addressed to them.
            await ctx.rooms.post(updated, posted)
            sent = escape(audience_label(communication.audience))
            if updated.drill is not None:
                # Timed for the score, but a drill's update never leaves its room.
                note = f"_Kept in this room; a real incident would send it to {sent}._"
                await ctx.rooms.post(updated, markup_message(note))
                ctx.rooms.refresh_headline(updated.id)
                return
            for channel in channels_for(ctx.config.channels, communication.audience):
                await ctx.rooms.post_to(channel, posted)
            await ctx.rooms.post(updated, markup_message(f"_Sent to {sent}._"))
            ctx.rooms.refresh_headline(updated.id)

        channel = incident.links.get("slack.channel", "")
        await intake.ack_once_decided(ack, ctx.guard(channel, user, work, "posting the update"))

    @app.view(actions.RESOLVE_VIEW)
    async def resolve_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        cause = str(field(values, actions.RESOLVE_CAUSE).get("value") or "")
        resolution = str(field(values, actions.RESOLVE_RESOLUTION).get("value") or "")
        user = str((body.get("user") or {}).get("id", ""))
        incident_id = str(view.get("private_metadata", ""))

        async def work() -> None:
            actor = await ctx.identities.actor(user)
            with intake.deciding():
                incident = await ctx.engine.resolve(incident_id, actor, cause, resolution)
            await ctx.rooms.post(incident, resolution_message(incident, user))
            if incident.drill is not None:
                score = await ctx.engine.drill_score(incident.id)
                await ctx.rooms.post(incident, text_message("\n".join(score.lines())))
            document = await ctx.engine.post_incident_document(incident.id)
            await ctx.rooms.upload(
                incident,
                f"post-incident-{incident.id}",
                document,
                incident.links.get("slack.headline_ts", ""),
                extension="md",
            )
            await post_checklists(ctx, incident)
            ctx.rooms.refresh_headline(incident.id)

        channel = ""
        with contextlib.suppress(BotError):
            channel = (await ctx.engine.get(incident_id)).links.get("slack.channel", "")
        await intake.ack_once_decided(ack, ctx.guard(channel, user, work, "resolving"))


def channels_for(channels: Channels, audience: list[Audience]) -> list[str]:
    """The configured channels an audience names, each once; the room is posted to apart."""
    wanted = [
        channels.incidents if "incidents-channel" in audience else "",
        channels.status if "status-channel" in audience else "",
    ]
    return list(dict.fromkeys(c for c in wanted if c))


def _block_of(view: dict[str, Any], action_id: str) -> str:
    """The block id holding an input, for pointing a validation error at it."""
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if element.get("action_id") == action_id:
            return str(block.get("block_id", action_id))
    return action_id
