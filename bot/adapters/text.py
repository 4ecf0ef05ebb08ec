"""Plain-text rendering of engine results for the terminal."""

from __future__ import annotations

from bot.engine.headline import Headline
from bot.engine.incident import Approval, Incident, StepRun
from bot.engine.outcome import fix_outcome
from bot.engine.pins import full_timeline
from bot.engine.root_causes import CauseMatch
from bot.engine.stats import Spread, Stats
from bot.executors.base import CheckResult, Preview
from bot.playbooks.duration import humanize
from bot.playbooks.models import (
    CommunicationStep,
    DiagnosticStep,
    FixStep,
    ManualStep,
    Stage,
    Step,
    VerificationStep,
)

MARK = {"ok": "[ok]", "problem": "[PROBLEM]", "error": "[error]", "skipped": "[skipped]"}
_KIND = {
    DiagnosticStep: "check",
    FixStep: "fix",
    ManualStep: "manual",
    CommunicationStep: "message",
    VerificationStep: "verify",
}


def indent(text: str, limit: int | None = None, prefix: str = "    ") -> str:
    lines = text.rstrip().splitlines()
    shown = lines if limit is None else lines[:limit]
    more = len(lines) - len(shown)
    body = "\n".join(prefix + line for line in shown)
    return body + (f"\n{prefix}... {more} more lines (show STEP for all)" if more > 0 else "")


def render_headline(h: Headline) -> str:
    return (
        f"== {h.incident_id} · {h.title} · {h.service} · {h.status.upper()} · "
        f"severity {h.severity} ==\n"
        f"   commander: {h.commander} | open for {h.elapsed} | "
        f"stage {h.stage_number}/{h.stage_count}: {h.stage}\n"
        f"   next escalation: {h.next_escalation} | last status update: {h.last_status_update}"
        + (f" | approvals waiting: {h.pending_approvals}" if h.pending_approvals else "")
        + (f"\n   fixes: {h.fixes}" if h.fixes else "")
        + (f"\n   escalates on: {', '.join(f'flag {f}' for f in h.flags)}" if h.flags else "")
        + _roles_line(h)
    )


def _roles_line(h: Headline) -> str:
    """The roles besides the commander (shown above), once anyone holds one."""
    others = [seat for seat in h.roles if seat.id != "commander"]
    if not any(seat.holder for seat in others):
        return ""
    return "\n   roles: " + ", ".join(f"{s.title} {s.holder or 'unassigned'}" for s in others)


def _took(spread: Spread) -> str:
    if spread.median is None or spread.p90 is None:
        return "-"
    return f"{humanize(spread.median)} / {humanize(spread.p90)} (n={spread.count})"


def render_stats(stats: Stats) -> str:
    """Medians and p90s of the response times, and fix outcomes, per playbook and service."""
    head = f"Incidents opened in the last {stats.window} (since {stats.since:%Y-%m-%d %H:%M} UTC)"
    if not stats.total.opened:
        return head + ": none."
    lines = [head + "; times are median / p90 (n = incidents that got there):"]
    for group in [*stats.groups, stats.total]:
        name = "all" if group is stats.total else f"{group.playbook} · {group.service}"
        fixes = ", ".join(f"{k} {v}" for k, v in group.fixes.items()) or "none"
        lines += [
            f"  {name}: {group.opened} opened",
            f"    acknowledge {_took(group.acknowledge)} | mitigate {_took(group.mitigate)} | "
            f"resolve {_took(group.resolve)}",
            f"    fixes: {fixes}",
        ]
    return "\n".join(lines)


def _state(step: Step, incident: Incident) -> str:
    run = incident.step_runs.get(step.id)
    if run is not None:
        return f"{MARK[run.status]} {run.summary}"
    if step.id in incident.manual_done:
        done = incident.manual_done[step.id]
        return f"[done] by {done.by}"
    tried = [a for a in incident.approvals.values() if a.step_id == step.id]
    return ", ".join(f"[{fix_outcome(a)}] {a.id}" for a in tried)


def render_step(step: Step, incident: Incident) -> str:
    kind = _KIND[type(step)]
    line = f"  {step.id:<28} {kind:<8} {step.title}"
    if isinstance(step, FixStep) and step.destructive:
        line += "  (destructive: needs a second approver)"
    state = _state(step, incident)
    if state:
        line += f"\n  {'':<28} {'':<8} -> {state}"
    if isinstance(step, ManualStep | CommunicationStep) and step.command:
        line += f"\n  {'':<28} {'':<8} $ {step.command}"
    return line


def render_stage(stage: Stage, incident: Incident, number: int, count: int) -> str:
    window = ""
    if stage.window is not None:
        end = f"-{int(stage.window.end.total_seconds() // 60)}" if stage.window.end else "+"
        window = f" ({int(stage.window.start.total_seconds() // 60)}{end} min)"
    parts = [f"-- Stage {number}/{count}: {stage.title}{window} --"]
    parts += [render_step(step, incident) for step in stage.steps]
    for cause in stage.root_causes:
        parts.append(f"  * Root cause: {cause.title}")
        for symptom in cause.symptoms:
            label = "rules it out" if symptom.rules_out else "symptom"
            parts.append(f"      {label}: {symptom.text}")
        parts += [render_step(step, incident) for step in cause.steps]
    return "\n".join(parts)


def render_run(run: StepRun, title: str, lines: int = 8) -> str:
    text = f"{MARK[run.status]} {run.step_id}: {title}\n    {run.summary}"
    if run.output and lines:
        text += "\n" + indent(run.output, lines, "      | ")
    return text


def render_causes(matches: list[CauseMatch]) -> str:
    if not matches:
        return "No root cause matches the findings yet. Run more diagnostics (causes)."
    parts = []
    for rank, match in enumerate(matches, 1):
        label = "Suggested root cause" if rank == 1 else "Also possible"
        parts.append(
            f"{label}: {match.cause.title} "
            f"({len(match.matched)} of {match.checkable} checkable symptoms)"
        )
        parts += [f"    - {evidence}" for evidence in match.evidence]
        fixes = [s.id for s in match.cause.steps if isinstance(s, FixStep)]
        checks = [s.id for s in match.cause.steps if isinstance(s, DiagnosticStep)]
        if checks:
            parts.append(f"    checks: {', '.join(checks)}")
        if fixes:
            parts.append(f"    fixes:  {', '.join(fixes)}  (fix STEP shows a dry-run preview)")
        if match.cause.see_also:
            parts.append(f"    see also: {', '.join(match.cause.see_also)}")
    return "\n".join(parts)


def render_preview(preview: Preview) -> str:
    text = f"Dry run: {preview.summary}"
    if preview.diff:
        text += "\n" + indent(preview.diff, 40)
    elif preview.before or preview.after:
        text += f"\n    before: {preview.before}\n    after:  {preview.after}"
    return text


def render_result(result: CheckResult) -> str:
    return f"{MARK[result.status]} {result.summary}"


def render_approval(approval: Approval) -> str:
    who = f" by {approval.decided_by.label}" if approval.decided_by else ""
    outcome = fix_outcome(approval)
    # "applied, verification failed by X" would read as if X failed it.
    said = f"{outcome}{who}" if outcome == approval.state else f"{outcome}; approved{who}"
    text = f"Approval {approval.id} ({approval.title}): {said}"
    if approval.result is not None:
        text += f"\n    result: {render_result(approval.result)}"
    if approval.verification is not None:
        text += f"\n    verification: {render_result(approval.verification)}"
    return text


def render_timeline(incident: Incident) -> str:
    rows = [
        f"  {e.at.strftime('%H:%M:%S')}  {e.actor:<14} {e.event:<14} {e.text}"
        for e in full_timeline(incident)
    ]
    return f"Timeline of {incident.id}:\n" + "\n".join(rows)
