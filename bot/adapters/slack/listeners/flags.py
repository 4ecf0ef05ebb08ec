"""A flag button's click: record the flag; the scheduler then nudges each level it reaches."""

from __future__ import annotations

from typing import Any

from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.context import SlackContext, markup_message
from bot.adapters.slack.rendering.escape import escape
from bot.engine.incident import Actor, Incident


async def raise_flag(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    incident = await ctx.engine.raise_flag(incident.id, value.flag, actor)
    raised = incident.timeline[-1].text
    message = f":triangular_flag_on_post: <@{actor.id}> raised: {escape(raised)}"
    await ctx.rooms.post(incident, markup_message(message))
    ctx.rooms.refresh_headline(incident.id)
