"""Diagnostics results and fix approvals as Slack messages."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    DividerBlock,
    Option,
    PlainTextObject,
    StaticSelectElement,
)

from bot.adapters.slack.actions import (
    APPROVE,
    DENY,
    FIX_CHOICE,
    REQUEST_FIX,
    RUN_STEP,
    ButtonValue,
)
from bot.adapters.slack.rendering.escape import code_block, escape, inline_code, shorten, truncate
from bot.adapters.slack.rendering.limits import FIELD_TEXT, SECTION_TEXT
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rendering.parts import (
    MARK,
    actions,
    button,
    context,
    fields,
    fit,
    section,
    when,
    who,
)
from bot.engine.incident import Approval, Incident, MenuKind, StepRun
from bot.engine.outcome import fix_outcome
from bot.engine.root_causes import CauseMatch
from bot.executors.base import CheckResult, Finding
from bot.playbooks.models import DiagnosticStep, FixStep, Playbook

# Output shown inline per step; anything longer is uploaded as a file by the app.
OUTPUT_LINES = 15
_OUTPUT_CHARS = 1500
_FINDINGS = 3
_OTHER_CAUSES = 2

# Slack allows 100 options in a static select; a deployment keeps 10 revisions by default.
_MENU_OPTIONS = 100


def output_is_long(run: StepRun) -> bool:
    """True when the output does not fit inline and should be uploaded as a file."""
    output = run.output.strip("\n")
    return len(output.splitlines()) > OUTPUT_LINES or len(output) > _OUTPUT_CHARS


def results_message(
    incident: Incident, playbook: Playbook, runs: list[StepRun], causes: list[CauseMatch]
) -> Message:
    """A diagnostics run for a thread reply: each result, then the best matching root cause."""
    counts = {status: sum(1 for r in runs if r.status == status) for status in MARK}
    tally = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "nothing ran"
    blocks: list[Block] = [section(f"*Diagnostics for {escape(incident.id)}*: {tally}")]
    blocks += [_run_section(run, playbook) for run in runs]
    text = f"{escape(incident.id)} diagnostics: {tally}"
    if causes:
        top = causes[0]
        text += f"; suggested root cause: {escape(top.cause.title)}"
        blocks += [DividerBlock(), _cause_section("Suggested root cause", top)]
        blocks += _cause_buttons(incident, playbook, top)
        blocks += [_cause_section("Also possible", m) for m in causes[1 : 1 + _OTHER_CAUSES]]
    elif runs:
        blocks.append(context("No root cause matches these findings yet."))
    return Message(text, fit(blocks, "results"))


def _run_section(run: StepRun, playbook: Playbook) -> Block:
    found = playbook.find_step(run.step_id)
    title = found[1].title if found else run.step_id
    lines = [
        f"{MARK[run.status]} *{escape(title)}* {inline_code(run.step_id)}",
        shorten(run.summary, 500),
    ]
    lines += [f"• {_finding(f)}" for f in run.findings[:_FINDINGS]]
    if len(run.findings) > _FINDINGS:
        lines.append(f"_and {len(run.findings) - _FINDINGS} more findings_")
    output = run.output.strip("\n")
    if output:
        shown = output.splitlines()[:OUTPUT_LINES]
        lines.append(code_block("\n".join(shown), _OUTPUT_CHARS))
        if output_is_long(run):
            lines.append(f"_{len(output.splitlines())} lines; the full output is attached_")
    return section("\n".join(lines))


def _finding(finding: Finding) -> str:
    where = f" on {shorten(finding.subject, 100)}" if finding.subject else ""
    return f"{inline_code(finding.name, 100)} = {shorten(str(finding.value), 200)}{where}"


def _cause_section(label: str, match: CauseMatch) -> Block:
    checkable = f"{len(match.matched)} of {match.checkable} checkable symptoms"
    lines = [f":dart: *{label}: {escape(match.cause.title)}* ({checkable})"]
    lines += [f"• {shorten(evidence, 300)}" for evidence in match.evidence]
    return section("\n".join(lines))


def _cause_buttons(incident: Incident, playbook: Playbook, match: CauseMatch) -> list[Block]:
    """One section per fix or check worth doing next; separate blocks keep action ids unique."""
    steps = list(match.cause.steps)
    for step_id in match.cause.see_also:
        found = playbook.find_step(step_id)
        if found is not None and all(s.id != step_id for s in steps):
            steps.append(found[1])
    blocks: list[Block] = []
    for step in steps:
        value = ButtonValue(incident.id, stage=incident.stage_index, step=step.id)
        label = f"*{escape(step.title)}* {inline_code(step.id)}"
        if isinstance(step, FixStep):
            style = "danger" if step.destructive else None
            blocks.append(section(label, button("Request fix", REQUEST_FIX, value, style)))
        elif isinstance(step, DiagnosticStep):
            blocks.append(section(label, button("Run", RUN_STEP, value)))
    return blocks


def approval_message(incident: Incident, approval: Approval) -> Message:
    """An approval request with Approve/Deny while pending; its outcome once decided."""
    requester = who(approval.requested_by)
    title = escape(approval.title)
    step = inline_code(approval.step_id)
    lines = [
        f":lock: *Fix approval* · {escape(incident.id)} · *{title}* {step}",
        f"Requested by {requester} {when(approval.requested_at)}",
    ]
    if approval.destructive:
        lines.append(f":warning: *Destructive:* needs an approver other than {requester}.")
    preview = approval.preview
    lines.append(f"*Dry run:* {shorten(preview.summary, 1000)}")
    if preview.error:
        reason = shorten(preview.error, 500)
        lines.append(f":x: The dry run failed ({reason}); this fix cannot be approved.")
    blocks: list[Block] = [section("\n".join(lines))]
    if preview.diff:
        blocks.append(section(code_block(preview.diff, SECTION_TEXT)))
    elif preview.before or preview.after:
        limit = FIELD_TEXT - 20
        pairs = [("Before", code_block(preview.before or " ", limit))]
        pairs.append(("After", code_block(preview.after or " ", limit)))
        blocks.append(fields(pairs))
    text = f"{escape(incident.id)} fix approval: {title} ({escape(fix_outcome(approval))})"
    if approval.state == "pending":
        blocks.append(context(f"Expires {when(approval.expires_at)}"))
        decision = _decision_buttons(incident, approval)
        blocks += actions(*decision, *_choice_menu(incident, approval))
    else:
        blocks.append(section(_outcome(approval)))
    return Message(text, blocks)


def _decision_buttons(incident: Incident, approval: Approval) -> list[ButtonElement]:
    value = ButtonValue(incident.id, approval=approval.id)
    deny = button("Deny", DENY, value, "danger")
    if approval.preview.error:
        return [deny]
    confirm = None
    if approval.destructive:
        confirm = ConfirmObject(
            title=PlainTextObject(text="Run a destructive fix?"),
            text=PlainTextObject(text=truncate(approval.title, 300)),
            confirm=PlainTextObject(text="Approve and run"),
            deny=PlainTextObject(text="Cancel"),
            style="danger",
        )
    return [button("Approve", APPROVE, value, "primary", confirm), deny]


_MENU_PROMPTS: dict[MenuKind, str] = {
    "revision": "Roll back to another revision",
    "replicas": "Scale to another replica count",
    "resources": "Raise by another factor",
}


def _choice_menu(incident: Incident, approval: Approval) -> list[StaticSelectElement]:
    """A fix's other choices (revisions, replica counts, factors): picking one asks anew."""
    others = [c for c in approval.choices if c.value != approval.choice][:_MENU_OPTIONS]
    if not others:
        return []
    options = [
        Option(
            text=PlainTextObject(text=truncate(c.label, 75)),
            value=ButtonValue(incident.id, step=approval.step_id, choice=c.value).encode(),
        )
        for c in others
    ]
    placeholder = PlainTextObject(text=_MENU_PROMPTS[approval.menu])
    return [StaticSelectElement(action_id=FIX_CHOICE, placeholder=placeholder, options=options)]


def _outcome(approval: Approval) -> str:
    by = f" by {who(approval.decided_by)}" if approval.decided_by else ""
    at = f" {when(approval.decided_at)}" if approval.decided_at else ""
    icon = {"approved": ":hourglass_flowing_sand:", "applied": ":white_check_mark:"}
    icon |= {"applying": ":hourglass_flowing_sand:", "interrupted": ":warning:"}
    icon |= {"failed": ":x:", "denied": ":no_entry:", "expired": ":hourglass:"}
    icon |= {"applied, verification failed": ":warning:"}
    outcome = fix_outcome(approval)
    lines = [f"{icon.get(outcome, '')} *{escape(outcome.capitalize())}*{by}{at}"]
    if approval.result is not None:
        lines.append(f"Result: {_result(approval.result)}")
    if approval.verification is not None:
        lines.append(f"Verification: {_result(approval.verification)}")
    return "\n".join(lines)


def _result(result: CheckResult) -> str:
    return f"{MARK[result.status]} {shorten(result.summary, 800)}"
