"""Escalation nudges and status-update reminders in the incident's room, with their buttons."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.adapters.slack import actions, room_repair
from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.context import SlackContext, markup_message, text_message
from bot.adapters.slack.rendering.blocks import approval_message
from bot.adapters.slack.rendering.escape import escape
from bot.adapters.slack.rendering.flag_blocks import flag_buttons
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rendering.parts import actions as actions_block
from bot.adapters.slack.rendering.parts import button, context, section
from bot.adapters.slack.rooms import APPROVAL, CHANNEL
from bot.config import EscalationContact
from bot.engine.incident import Actor, Incident
from bot.engine.recovery import Interruption
from bot.engine.timers import fixes_tried, raisable_flags
from bot.playbooks.duration import humanize
from bot.playbooks.models import EscalationLevel

SNOOZE_MINUTES = 10


def contacts_for(ctx: SlackContext, incident: Incident, contacts: EscalationContact | None) -> str:
    """The level's contacts: mentioned, but for a drill only when the config says so."""
    if incident.drill is None or ctx.config.drills.mention_contacts:
        return contact_mentions(contacts)
    return contact_names(contacts)


def contact_names(contacts: EscalationContact | None) -> str:
    """The contacts as plain text that notifies nobody: their name, else their ids."""
    if contacts is None:
        return ""
    named = contacts.name or ", ".join(contacts.notify)
    return f"{escape(named)} (DRILL: not notified)" if named else ""


def contact_mentions(contacts: EscalationContact | None) -> str:
    """`<@U..>` for users and `<!subteam^S..>` for user groups; nothing else is mentioned."""
    if contacts is None:
        return ""
    mentions = []
    for who in contacts.notify:
        if who.startswith("S") and who.isalnum():
            mentions.append(f"<!subteam^{who}>")
        elif who[:1] in ("U", "W") and who.isalnum():
            mentions.append(f"<@{who}>")
    return " ".join(mentions)


def tried(incident: Incident) -> str:
    """What has been tried so far: the fixes and how they went."""
    return "; ".join(fixes_tried(incident)) or "no fixes yet"


class SlackNotifier:
    """Posts what the scheduler fires, at most once per firing however often it is told."""

    def __init__(self, ctx: SlackContext) -> None:
        self.ctx = ctx

    async def escalation_due(
        self,
        incident: Incident,
        level: EscalationLevel,
        contacts: EscalationContact | None,
        late: bool,
    ) -> None:
        message = nudge_message(incident, level, contacts, late, self.ctx)
        if await room_repair.post_nudge(self.ctx, incident, message) is not None:
            self.ctx.rooms.refresh_headline(incident.id)

    async def status_reminder(self, incident: Incident, late: bool) -> None:
        message = reminder_message(incident, late, self.ctx)
        await room_repair.post_nudge(self.ctx, incident, message)

    async def commander_needed(self, incident: Incident, late: bool) -> None:
        message = commander_message(incident, late, self.ctx)
        await room_repair.post_nudge(self.ctx, incident, message)

    async def fix_interrupted(self, interruption: Interruption) -> None:
        """Says so in the room, closes the old approval's buttons and posts the fresh one."""
        incident, old = interruption.incident, interruption.approval
        if CHANNEL not in incident.links:
            return
        rooms = self.ctx.rooms
        await rooms.post(incident, text_message(f"\u26a0 {interruption.text}"))
        old_ts = incident.links.get(APPROVAL + old.id)
        if old_ts:
            await rooms.update(incident, old_ts, approval_message(incident, old))
        if interruption.fresh is not None:
            fresh = interruption.fresh
            ts = await rooms.post(incident, approval_message(incident, fresh))
            await self.ctx.engine.set_links(incident.id, {APPROVAL + fresh.id: ts})
        rooms.refresh_headline(incident.id)


def nudge_message(
    incident: Incident,
    level: EscalationLevel,
    contacts: EscalationContact | None,
    late: bool,
    ctx: SlackContext,
) -> Message:
    open_for = humanize(ctx.engine.clock() - incident.opened_at)
    who = contacts_for(ctx, incident, contacts) or "(no contacts configured for this level)"
    late_note = " _(late: the bot was down when this was due)_" if late else ""
    text = (
        f":rotating_light: *{escape(incident.id)}* has been open for {open_for}: time to escalate "
        f"to level {level.level} ({escape(level.title)}). {who}{late_note}"
    )
    value = ButtonValue(incident.id, level=level.level)
    blocks: list[Block] = [
        section(text),
        context(f"Tried so far: {escape(tried(incident))}"),
    ]
    if level.criteria:
        criteria = "; ".join(escape(c) for c in level.criteria)
        blocks.append(context(f"Escalate if: {criteria}"))
    blocks += actions_block(
        button("Escalate now", actions.ESCALATE_NOW, value, style="danger"),
        button(f"Snooze {SNOOZE_MINUTES} min", actions.SNOOZE_ESCALATION, value),
        button("We're on it", actions.ON_IT, value, style="primary"),
    )
    blocks += flag_buttons(incident.id, raisable_flags(incident, ctx.engine.playbook_for(incident)))
    return Message(text=f"{incident.id}: escalate to level {level.level}", blocks=blocks)


def reminder_message(incident: Incident, late: bool, ctx: SlackContext) -> Message:
    if incident.status_updates:
        since = humanize(ctx.engine.clock() - incident.status_updates[-1].posted_at)
        text = f":mega: The last status update of *{escape(incident.id)}* was {since} ago."
    else:
        text = f":mega: *{escape(incident.id)}* has had no status update yet."
    if late:
        text += " _(late: the bot was down when this was due)_"
    value = ButtonValue(incident.id)
    blocks: list[Block] = [section(text + " Time for the next one.")]
    blocks += actions_block(
        button("Post an update", actions.STATUS_MODAL, value, style="primary"),
        button(f"Snooze {SNOOZE_MINUTES} min", actions.SNOOZE_REMINDER, value),
        button("Mute reminders", actions.MUTE_REMINDERS, value),
    )
    return Message(text=f"{incident.id}: a status update is due", blocks=blocks)


def commander_message(incident: Incident, late: bool, ctx: SlackContext) -> Message:
    """Asks the room to confirm a commander: take it, or pick someone in the headline."""
    open_for = humanize(ctx.engine.clock() - incident.opened_at)
    late_note = " _(late: the bot was down when this was due)_" if late else ""
    text = (
        f":bust_in_silhouette: *{escape(incident.id)}* has been open for {open_for} with no "
        f"incident commander. Who is leading? Take it, or pick someone in the pinned headline."
        f"{late_note}"
    )
    blocks: list[Block] = [section(text)]
    blocks += actions_block(
        button("I'll command", actions.COMMANDER, ButtonValue(incident.id), style="primary")
    )
    return Message(text=f"{incident.id}: no incident commander yet", blocks=blocks)


async def escalate_now(ctx: SlackContext, incident: Incident, level: int, actor: Actor) -> None:
    """Record the escalation and tell the level's contacts in the room."""
    incident = await ctx.engine.escalate_now(incident.id, level, actor)
    found = next(lv for lv in ctx.engine.playbook_for(incident).escalation if lv.level == level)
    contacts = ctx.config.contact(level, found.title)
    who = contacts_for(ctx, incident, contacts) or "(no contacts configured)"
    await ctx.rooms.post(
        incident,
        markup_message(
            f":rotating_light: <@{actor.id}> escalated {escape(incident.id)} to level {level} "
            f"({escape(found.title)}): {who}. Tried so far: {escape(tried(incident))}"
        ),
    )
    ctx.rooms.refresh_headline(incident.id)
