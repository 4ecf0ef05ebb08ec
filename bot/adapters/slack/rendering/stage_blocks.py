"""The current stage as Slack messages: one section per step with the button its kind calls for."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ButtonElement, DividerBlock

from bot.adapters.slack.actions import (
    ADVANCE,
    MARK_DONE,
    REQUEST_FIX,
    RUN_STAGE,
    RUN_STEP,
    STATUS_MODAL,
    VERIFY,
    ButtonValue,
)
from bot.adapters.slack.rendering.escape import (
    code_block,
    escape,
    inline_code,
    mention,
    shorten,
    truncate,
)
from bot.adapters.slack.rendering.message import Message, split
from bot.adapters.slack.rendering.parts import MARK, actions, button, context, header, section, who
from bot.engine.audience import audience_label
from bot.engine.incident import Incident
from bot.engine.outcome import fix_outcome
from bot.playbooks.models import (
    CommunicationStep,
    DiagnosticStep,
    FixStep,
    ManualStep,
    Playbook,
    RootCause,
    Stage,
    Step,
    VerificationStep,
)

KIND = {
    DiagnosticStep: ":mag: check",
    FixStep: ":wrench: fix",
    ManualStep: ":ballot_box_with_check: manual",
    CommunicationStep: ":speech_balloon: message",
    VerificationStep: ":stopwatch: verify",
}
# A summary in a stage message is a reminder; the full result is in the results thread.
_SUMMARY = 300


def stage_messages(incident: Incident, playbook: Playbook) -> list[Message]:
    """The incident's current stage; several messages when it exceeds Slack's block limit."""
    index = incident.stage_index
    stage = playbook.stages[index]
    live = incident.status == "open"
    title = f"Stage {index + 1}/{len(playbook.stages)}: {stage.title}"
    blocks: list[Block] = [
        header(title),
        context(f"*{escape(incident.id)}* · {escape(playbook.title)}{_window(stage)}"),
    ]
    blocks += [_step_section(step, incident, live) for step in stage.steps]
    for cause in stage.root_causes:
        blocks += [DividerBlock(), _cause_section(cause)]
        blocks += [_step_section(step, incident, live) for step in cause.steps]
    if live:
        stage_buttons = []
        if any(isinstance(step, DiagnosticStep) for step in stage.all_steps()):
            stage_buttons.append(
                button("Run diagnostics", RUN_STAGE, _value(incident), style="primary")
            )
        if index + 1 < len(playbook.stages):
            stage_buttons.append(button("Next stage", ADVANCE, _value(incident)))
        blocks += actions(*stage_buttons)
    else:
        blocks.append(context(f"_Incident {escape(incident.status)}: these steps are closed._"))
    return split(Message(f"{escape(incident.id)} {escape(title)}", blocks))


def _window(stage: Stage) -> str:
    if stage.window is None:
        return ""
    start = int(stage.window.start.total_seconds() // 60)
    if stage.window.end is None:
        return f" · from {start} min"
    return f" · {start} to {int(stage.window.end.total_seconds() // 60)} min"


def _value(incident: Incident, step: str = "") -> ButtonValue:
    return ButtonValue(incident.id, stage=incident.stage_index, step=step)


def _cause_section(cause: RootCause) -> Block:
    symptoms = "\n".join(
        f"• {'_rules it out:_ ' if s.rules_out else ''}{escape(s.text)}" for s in cause.symptoms
    )
    text = f":dart: *Root cause: {escape(cause.title)}*\n{symptoms}"
    if cause.see_also:
        text += "\nSee also: " + ", ".join(inline_code(s) for s in cause.see_also)
    return section(text)


def _step_section(step: Step, incident: Incident, live: bool) -> Block:
    lines = [f"{KIND[type(step)]} · *{escape(step.title)}*"]
    if isinstance(step, FixStep) and step.destructive:
        lines.append(":warning: _destructive: needs an approver other than the requester_")
    if step.command:
        multiline = "\n" in step.command.strip()
        lines.append(code_block(step.command, 1000) if multiline else inline_code(step.command))
    if isinstance(step, CommunicationStep):
        audience = f" for {audience_label([step.audience])}" if step.audience else ""
        lines.append(f"template {inline_code(step.template)}{escape(audience)}")
    if step.note:
        lines.append(f"_{escape(step.note)}_")
    state = step_state(step, incident)
    if state:
        lines.append(state)
    accessory = _step_button(step, incident) if live else None
    return section("\n".join(lines), accessory)


def step_state(step: Step, incident: Incident) -> str:
    """The latest thing that happened to a step, as one escaped line, or "" when nothing has."""
    run = incident.step_runs.get(step.id)
    if run is not None:
        return f"{MARK[run.status]} {shorten(run.summary, _SUMMARY)}"
    done = incident.manual_done.get(step.id)
    if done is not None:
        note = f": {shorten(done.note, _SUMMARY)}" if done.note else ""
        return f":white_check_mark: done by {mention(done.by)}{note}"
    approvals = [a for a in incident.approvals.values() if a.step_id == step.id]
    if approvals:
        latest = max(approvals, key=lambda a: a.requested_at)
        by = f" by {who(latest.decided_by)}" if latest.decided_by else ""
        outcome = ""
        if latest.result is not None:
            outcome = f": {MARK[latest.result.status]} {shorten(latest.result.summary, _SUMMARY)}"
        earlier = "".join(f"{fix_outcome(a)}, then " for a in approvals if a is not latest)
        return truncate(f":lock: fix {earlier}{fix_outcome(latest)}{by}{outcome}", _SUMMARY)
    return ""


def _step_button(step: Step, incident: Incident) -> ButtonElement | None:
    value = _value(incident, step.id)
    if isinstance(step, DiagnosticStep):
        return button("Run", RUN_STEP, value)
    if isinstance(step, FixStep):
        return button("Request fix", REQUEST_FIX, value, "danger" if step.destructive else None)
    if isinstance(step, ManualStep):
        return None if step.id in incident.manual_done else button("Mark done", MARK_DONE, value)
    if isinstance(step, CommunicationStep):
        return button("Fill in", STATUS_MODAL, value)
    return button("Verify", VERIFY, value)
