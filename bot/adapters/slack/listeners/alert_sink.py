"""Shows alert-opened incidents in Slack: the room, the first diagnostics, the resolved notice."""

from __future__ import annotations

import logging

from slack_sdk.models.blocks import Block

from bot.adapters.slack import actions, room_repair
from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.context import SlackContext
from bot.adapters.slack.listeners.interactions import report_runs
from bot.adapters.slack.rendering.escape import escape
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rendering.parts import actions as actions_block
from bot.adapters.slack.rendering.parts import button, section
from bot.adapters.slack.rooms import STAGE
from bot.engine.incident import BOT, Incident
from bot.playbooks.models import DiagnosticStep

log = logging.getLogger(__name__)


class SlackAlertSink:
    """The AlertListener of a Slack bot."""

    def __init__(self, ctx: SlackContext) -> None:
        self.ctx = ctx

    async def alert_opened(self, incident: Incident, summary: str) -> None:
        channels = self.ctx.config.channels
        if channels.mode == "thread" and not channels.incidents:
            log.warning("%s has no room: thread mode needs channels.incidents", incident.id)
            return
        incident = await room_repair.open_room(self.ctx.rooms, incident, "", channels.incidents)
        stage = self.ctx.engine.stage(incident)
        if not any(isinstance(s, DiagnosticStep) for s in stage.all_steps()):
            return
        note = (
            f":rotating_light: Opened by Alertmanager: {escape(summary)}\n"
            f"Running the diagnostics of {escape(stage.title)} …"
        )
        await self.ctx.rooms.post(
            incident, Message(text=note[:300], blocks=[section(note)]), incident.links.get(STAGE)
        )
        runs = await self.ctx.engine.run_stage(incident.id, BOT)
        await report_runs(self.ctx, incident, runs)

    async def alert_resolved(self, incident: Incident) -> None:
        message = resolved_message(incident)
        in_room = await room_repair.room_or_hold(self.ctx, incident, message)
        if in_room is not None:
            await self.ctx.rooms.post(in_room, message)
            self.ctx.rooms.refresh_headline(incident.id)


def resolved_message(incident: Incident) -> Message:
    text = (
        f":white_check_mark: The alert of *{escape(incident.id)}* has resolved. "
        "The incident stays open until someone confirms the recovery and resolves it."
    )
    blocks: list[Block] = [section(text)]
    blocks += actions_block(
        button("Resolve", actions.RESOLVE, ButtonValue(incident.id), style="primary")
    )
    return Message(text=f"{incident.id}: the alert has resolved", blocks=blocks)
