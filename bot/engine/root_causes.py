"""Points the responder at the root causes whose symptoms the diagnostics found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.engine.incident import Incident
from bot.executors.base import Finding
from bot.playbooks.models import Playbook, RootCause, Symptom


@dataclass(frozen=True)
class CauseMatch:
    cause: RootCause
    matched: list[Symptom]
    evidence: list[str]

    @property
    def checkable(self) -> int:
        return sum(1 for s in self.cause.symptoms if s.finding)


def suggest_causes(playbook: Playbook, incident: Incident) -> list[CauseMatch]:
    """Causes with at least one matching symptom, the best supported first."""
    findings, current = incident.findings(), current_findings(incident)
    matches = []
    for cause in playbook.root_causes():
        matched, evidence = [], []
        for symptom in cause.symptoms:
            # A symptom tied to a step reads that step's latest run; any other reads the latest
            # observation of its fact, whichever step made it.
            hit = _first_hit(symptom, findings if symptom.step else current)
            if hit is not None:
                matched.append(symptom)
                evidence.append(_describe(symptom, hit))
        if matched:
            matches.append(CauseMatch(cause, matched, evidence))
    return sorted(matches, key=lambda m: (-len(m.matched), -len(m.matched) / m.checkable))


def current_findings(incident: Incident) -> list[tuple[str, Finding]]:
    """Findings of each step's latest run; a fact several steps observe, from the newest only.

    So pods gone since (replaced by a fix) stop being evidence once any step looks again.
    """
    newest: dict[str, datetime] = {}
    for run in incident.step_runs.values():
        for finding in run.findings:
            newest[finding.name] = max(newest.get(finding.name, run.finished_at), run.finished_at)
    return [
        (run.step_id, finding)
        for run in incident.step_runs.values()
        for finding in run.findings
        if run.finished_at >= newest[finding.name]
    ]


def _first_hit(symptom: Symptom, findings: list[tuple[str, Finding]]) -> Finding | None:
    for step_id, finding in findings:
        if finding.name != symptom.finding:
            continue
        if symptom.step and step_id != symptom.step:
            continue
        if holds(symptom, finding):
            return finding
    return None


def holds(symptom: Symptom, finding: Finding) -> bool:
    value = finding.value
    if symptom.equals is not None:
        return _same(value, symptom.equals)
    if symptom.not_equals is not None:
        return not _same(value, symptom.not_equals)
    if symptom.contains is not None:
        return symptom.contains.lower() in str(value).lower()
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    if symptom.at_least is not None:
        return value >= symptom.at_least
    if symptom.at_most is not None:
        return value <= symptom.at_most
    return False


def _same(a: object, b: object) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


def _describe(symptom: Symptom, finding: Finding) -> str:
    where = f" on {finding.subject}" if finding.subject else ""
    if symptom.contains is not None:
        return f"{symptom.text}: {finding.name} contains {symptom.contains!r}{where}"
    return f"{symptom.text}: {finding.name}={finding.value}{where}"
