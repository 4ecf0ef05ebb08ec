"""The stage and approval buttons: every click stores its decision, acks, then works on and tells
the room."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.adapters.slack import actions, intake, room_repair
from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.context import SlackContext, markup_message, text_message
from bot.adapters.slack.listeners import checklists, flags, nudges, roles
from bot.adapters.slack.listeners.views import open_status_modal
from bot.adapters.slack.rendering import blocks, modals
from bot.adapters.slack.rendering.escape import escape
from bot.adapters.slack.rendering.flag_blocks import flag_action
from bot.adapters.slack.rooms import APPROVAL
from bot.adapters.slack.scope import require_its_room
from bot.engine.escalation import FLAGS
from bot.engine.incident import Actor, Incident, StepRun, TimerKind
from bot.errors import InvalidRequest

Click = Callable[[SlackContext, Incident, ButtonValue, Actor, dict[str, Any]], Awaitable[None]]


def register(app: AsyncApp, ctx: SlackContext) -> None:
    handlers: dict[str, Click] = {
        actions.RUN_STAGE: _run_stage,
        actions.RUN_STEP: _run_step,
        actions.REQUEST_FIX: _request_fix,
        actions.FIX_CHOICE: _request_fix,
        actions.APPROVE: _approve,
        actions.DENY: _deny,
        actions.MARK_DONE: _mark_done,
        actions.VERIFY: _verify,
        actions.ADVANCE: _advance,
        actions.COMMANDER: _commander,
        actions.STATUS_MODAL: _status_modal,
        actions.RESOLVE: _resolve_modal,
        actions.ESCALATE_NOW: _escalate_now,
        actions.ON_IT: _on_it,
        actions.SNOOZE_ESCALATION: _snooze_escalation,
        actions.SNOOZE_REMINDER: _snooze_reminder,
        actions.MUTE_REMINDERS: _mute_reminders,
        actions.ROLE: roles.assign,
        actions.SEVERITY: roles.severity,
    }
    handlers.update({flag_action(flag): flags.raise_flag for flag in FLAGS})
    for action_id, handler in handlers.items():
        app.action(action_id)(_listener(ctx, action_id, handler))
    checklists.register(app, ctx)

    @app.action(re.compile(r".*"))
    async def unknown(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        channel, user = _where(body)
        await ctx.tell(channel, user, ":warning: that button is not one of mine", respond)


def _where(body: dict[str, Any]) -> tuple[str, str]:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    return str(channel), str((body.get("user") or {}).get("id", ""))


def _listener(ctx: SlackContext, action_id: str, handler: Click) -> Callable[..., Awaitable[None]]:
    # A modal must open within 3 seconds of the click: skip the group lookup for those.
    opens_modal = action_id in (actions.STATUS_MODAL, actions.RESOLVE)

    async def listener(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        channel, user = _where(body)

        async def work() -> None:
            clicked = (body.get("actions") or [{}])[0]
            # A button carries its value; a select carries it on the option picked; a user
            # picker has neither, so its block's id carries it.
            raw = (
                clicked.get("value")
                or (clicked.get("selected_option") or {}).get("value")
                or clicked.get("block_id")
            )
            value = ButtonValue.decode(raw)
            incident = await ctx.engine.get(value.incident)
            incident = await room_repair.ensure_room(ctx.rooms, incident)
            require_its_room(incident, channel)
            _still_valid(incident, value)
            name = str((body.get("user") or {}).get("name", ""))
            actor = (
                Actor(id=user, name=name) if opens_modal else await ctx.identities.actor(user, name)
            )
            # The handler's first incident write is the click's decision: the ack waits for it.
            with intake.deciding():
                await handler(ctx, incident, value, actor, body)

        await intake.ack_once_decided(
            ack, ctx.guard(channel, user, work, action_id.removeprefix("rb."), respond)
        )

    return listener


def _still_valid(incident: Incident, value: ButtonValue) -> None:
    if incident.status != "open":
        raise InvalidRequest(f"{incident.id} is {incident.status}; this button no longer acts")
    if value.stage not in (-1, incident.stage_index):
        raise InvalidRequest("that stage has passed; use the buttons of the current stage")


async def report_runs(ctx: SlackContext, incident: Incident, runs: list[StepRun]) -> None:
    """Results in the stage's thread, long output as files; the stage and headline refreshed."""
    incident = await ctx.engine.get(incident.id)
    playbook = ctx.engine.playbook_for(incident)
    reply_to = incident.links.get("slack.stage_ts")
    message = blocks.results_message(incident, playbook, runs, ctx.engine.causes(incident))
    await ctx.rooms.post(incident, message, reply_to)
    for run in runs:
        if blocks.output_is_long(run) and reply_to:
            await ctx.rooms.upload(incident, f"{incident.id}-{run.step_id}", run.output, reply_to)
    await ctx.rooms.refresh_stage(incident)
    ctx.rooms.refresh_headline(incident.id)


async def _run_stage(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    stage = ctx.engine.stage(incident)
    await ctx.rooms.post(
        incident,
        markup_message(f"<@{actor.id}> is running the diagnostics of {escape(stage.title)} …"),
        incident.links.get("slack.stage_ts"),
    )
    await report_runs(ctx, incident, await ctx.engine.run_stage(incident.id, actor))


async def _run_step(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    await report_runs(ctx, incident, [await ctx.engine.run_step(incident.id, value.step, actor)])


async def _request_fix(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    choice = value.choice if value.choice >= 0 else None
    waiting = {
        a.id
        for a in incident.approvals.values()
        if a.step_id == value.step and a.state == "pending"
    }
    approval = await ctx.engine.request_fix(incident.id, value.step, actor, choice)
    incident = await ctx.engine.get(incident.id)
    # A pick from the menu replaces the request it was made on: show that one as replaced.
    for replaced in waiting - {approval.id}:
        if incident.links.get(APPROVAL + replaced):
            await _show_approval(ctx, incident.id, replaced)
    existing = incident.links.get(APPROVAL + approval.id)
    if existing:
        raise InvalidRequest(f"{approval.id} is already waiting for approval")
    ts = await ctx.rooms.post(incident, blocks.approval_message(incident, approval))
    await ctx.engine.set_links(incident.id, {APPROVAL + approval.id: ts})
    ctx.rooms.refresh_headline(incident.id)


async def _approve(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    ts = incident.links.get(APPROVAL + value.approval, "")

    async def progress(message: str) -> None:
        await ctx.rooms.post(incident, text_message(f"verifying: {message}"), ts or None)

    # The engine refuses non-approvers and second clicks before anything runs.
    await ctx.engine.approve(incident.id, value.approval, actor, progress)
    await _show_approval(ctx, incident.id, value.approval)


async def _deny(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    await ctx.engine.deny(incident.id, value.approval, actor)
    await _show_approval(ctx, incident.id, value.approval)


async def _show_approval(ctx: SlackContext, incident_id: str, approval_id: str) -> None:
    incident = await ctx.engine.get(incident_id)
    approval = incident.approvals[approval_id]
    ts = incident.links.get(APPROVAL + approval_id)
    message = blocks.approval_message(incident, approval)
    if ts:
        await ctx.rooms.update(incident, ts, message)
        await ctx.rooms.post(incident, message, ts)
    else:
        await ctx.rooms.post(incident, message)
    await ctx.rooms.refresh_stage(incident)
    ctx.rooms.refresh_headline(incident_id)


async def _mark_done(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    incident = await ctx.engine.mark_done(incident.id, value.step, actor)
    await ctx.rooms.refresh_stage(incident)


async def _verify(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    reply_to = incident.links.get("slack.stage_ts")

    async def progress(message: str) -> None:
        await ctx.rooms.post(incident, text_message(message), reply_to)

    run = await ctx.engine.verify(incident.id, value.step, actor, progress)
    await report_runs(ctx, incident, [run])


async def _advance(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    incident = await ctx.engine.advance(incident.id, actor)
    await ctx.rooms.show_stage(incident)
    ctx.rooms.refresh_headline(incident.id)


async def _commander(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    await ctx.engine.claim_commander(incident.id, actor)
    await ctx.rooms.post(incident, markup_message(f"<@{actor.id}> is now incident commander"))
    ctx.rooms.refresh_headline(incident.id)


async def _status_modal(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    await open_status_modal(ctx, incident, value.step, str(body["trigger_id"]))


async def _resolve_modal(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    await ctx.rooms.client.views_open(
        trigger_id=str(body["trigger_id"]), view=modals.resolve_modal(incident.id)
    )


async def _escalate_now(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    await nudges.escalate_now(ctx, incident, value.level, actor)


async def _on_it(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    incident = await ctx.engine.acknowledge_escalation(incident.id, value.level, actor)
    await ctx.rooms.post(
        incident,
        markup_message(f"<@{actor.id}>: we're on it; level {value.level} is not escalated for now"),
    )
    ctx.rooms.refresh_headline(incident.id)


async def _snooze_escalation(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    await _snooze(ctx, incident, "escalation", actor)


async def _snooze_reminder(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    await _snooze(ctx, incident, "reminder", actor)


async def _snooze(ctx: SlackContext, incident: Incident, kind: TimerKind, actor: Actor) -> None:
    minutes = nudges.SNOOZE_MINUTES
    incident = await ctx.engine.snooze(incident.id, kind, minutes, actor)
    note = f"<@{actor.id}> snoozed {kind} nudges for {minutes} min"
    await ctx.rooms.post(incident, markup_message(note))
    ctx.rooms.refresh_headline(incident.id)


async def _mute_reminders(
    ctx: SlackContext, incident: Incident, value: ButtonValue, actor: Actor, body: dict[str, Any]
) -> None:
    incident = await ctx.engine.mute_reminders(incident.id, actor)
    await ctx.rooms.post(incident, markup_message(f"<@{actor.id}> muted status-update reminders"))
