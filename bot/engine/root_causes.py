"""Points the responder at the root causes whose symptoms the diagnostics found."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from bot.engine.incident import Incident, StepRun
from bot.executors.base import Finding
from bot.playbooks.checks import placeholders_in
from bot.playbooks.models import (
    DiagnosticStep,
    FixStep,
    Playbook,
    RootCause,
    Symptom,
    VerificationStep,
)

# Parameters that point a check at something other than the service itself, when written out.
_TARGETS = ("namespace", "selector", "pod", "deployment", "container", "involving")
# A finding a full listing of pods reports, and how a pod's findings name their subject.
_LISTED = "pods.total"
_POD = "pod/"
# The workload a pod belongs to, as `kind/name`, when a diagnostic read its ownerReferences.
_OWNER = "pod.owner"
# How many subjects an "every pod" piece of evidence names before it just counts them.
_NAMED = 3


@dataclass(frozen=True)
class CauseMatch:
    cause: RootCause
    matched: list[Symptom]
    evidence: list[str]

    @property
    def checkable(self) -> int:
        """The cause's symptoms the bot can test for, leaving out those that rule it out."""
        return sum(1 for s in self.cause.symptoms if s.finding and not s.rules_out)

    @property
    def strength(self) -> int:
        return sum(s.specificity for s in self.matched)

    @property
    def coverage(self) -> float:
        return len(self.matched) / self.checkable if self.checkable else 0.0


def suggest_causes(playbook: Playbook, incident: Incident) -> list[CauseMatch]:
    """Causes with a matching symptom and none that rules them out, the best supported first.

    Best supported: the most specific evidence (each matched symptom weighs its specificity),
    then the larger share of the cause's checkable symptoms matched; ties keep playbook order.
    """
    observed = Observed(playbook, incident)
    matches = []
    for cause in playbook.root_causes():
        if ruled_out(cause, observed):
            continue
        matched, evidence = [], []
        for symptom in cause.symptoms:
            if symptom.rules_out or not symptom.finding:
                continue
            hit = observed.evidence(symptom)
            if hit is not None:
                matched.append(symptom)
                evidence.append(hit)
        if matched:
            matches.append(CauseMatch(cause, matched, evidence))
    return sorted(matches, key=lambda m: (-m.strength, -m.coverage))


def ruled_out(cause: RootCause, observed: Observed) -> list[str]:
    """The evidence of each `rules_out` symptom of the cause that holds; empty when none does."""
    found = (observed.evidence(s) for s in cause.symptoms if s.rules_out)
    return [hit for hit in found if hit is not None]


class Observed:
    """The findings symptoms are tested on, and which of them are still current.

    A symptom tied to a step reads that step's latest run. Any other reads, for each thing the
    bot looks at (the service itself, or one of its dependencies), the newest observation of
    each fact: so a look at the database's pods leaves the service's own alone. Either way a
    pod that a later full listing of its scope no longer shows (replaced by a fix) is gone,
    and none of its findings is evidence any more.
    """

    def __init__(self, playbook: Playbook, incident: Incident) -> None:
        self.runs = incident.step_runs
        self._scopes = {run: _scope(playbook, run) for run in self.runs}
        self._newest: dict[tuple[str, str], datetime] = {}
        # Each full listing of pods: when, and which pods it saw.
        self._listings: list[tuple[datetime, set[str]]] = []
        self._owners: dict[str, str] = {}
        for step_id, run in self.runs.items():
            scope = self._scopes[step_id]
            for finding in run.findings:
                key = (scope, finding.name)
                self._newest[key] = max(self._newest.get(key, run.finished_at), run.finished_at)
                if finding.name == _OWNER:
                    self._owners[finding.subject] = str(finding.value)
            if any(f.name == _LISTED for f in run.findings):
                pods = {f.subject for f in run.findings if f.subject.startswith(_POD)}
                self._listings.append((run.finished_at, pods))

    def current(self, step_id: str, finding: Finding) -> bool:
        """The newest observation of its fact in its scope, about a pod not gone since."""
        run = self.runs[step_id]
        scope = self._scopes[step_id]
        return run.finished_at >= self._newest[(scope, finding.name)] and not self.gone(
            step_id, finding
        )

    def gone(self, step_id: str, finding: Finding) -> bool:
        """A pod that a later listing of its workload's pods no longer shows (replaced by a fix).

        Any listing that shows the workload's pods speaks for them, whatever step named the
        pod: psql run in the service's pods to reach the database names the service's pods.
        A pod of another workload (a database pod named in the service's events) is not a
        listing's to drop.
        """
        if not finding.subject.startswith(_POD):
            return False
        finished = self.runs[step_id].finished_at
        owner = self._workload(finding.subject)
        return any(
            when > finished
            and finding.subject not in pods
            and any(_same_workload(owner, self._workload(pod)) for pod in pods)
            for when, pods in self._listings
        )

    def _workload(self, pod: str) -> str:
        """The pod's owner as reported, else the workload name its own name suggests."""
        return self._owners.get(pod) or _named_workload(pod)

    def looks(self, symptom: Symptom) -> Iterator[tuple[StepRun, list[Finding]]]:
        """Each run the symptom reads, with the findings of its name that count."""
        if symptom.step:
            run = self.runs.get(symptom.step)
            if run is not None:
                named = [
                    f
                    for f in run.findings
                    if f.name == symptom.finding and not self.gone(symptom.step, f)
                ]
                yield run, named
            return
        for step_id, run in self.runs.items():
            named = [
                f for f in run.findings if f.name == symptom.finding and self.current(step_id, f)
            ]
            if named:
                yield run, named

    def evidence(self, symptom: Symptom) -> str | None:
        """What shows the symptom holds, or None when nothing does."""
        for run, named in self.looks(symptom):
            showing = [f for f in named if holds(symptom, f)]
            if not showing:
                continue
            if not symptom.all:
                return _describe(symptom, showing[0])
            everyone = self._population(run, symptom)
            if everyone <= {f.subject for f in showing}:
                return _describe_all(symptom, showing[0], sorted(everyone))
        return None

    def _population(self, run: StepRun, symptom: Symptom) -> set[str]:
        """Every subject of the symptom's kind the run reported on: each pod it listed, say."""
        family = (symptom.finding or "").split(".", 1)[0]
        return {
            f.subject
            for f in run.findings
            if f.name.split(".", 1)[0] == family and not self.gone(run.step_id, f)
        }


def _scope(playbook: Playbook, step_id: str) -> str:
    """What a step looks at: '' for the service itself, else the dependencies it names."""
    found = playbook.find_step(step_id)
    if found is None:
        return ""
    step = found[1]
    if isinstance(step, DiagnosticStep | FixStep):
        params = step.action.model_dump(exclude={"type"})
    elif isinstance(step, VerificationStep):
        params = step.check.model_dump(exclude={"type"})
    else:
        return ""
    named = {o for o in map(_object_named, placeholders_in(params)) if o}
    named |= {
        f"{key}={params[key]}"
        for key in _TARGETS
        if isinstance(params.get(key), str) and params[key] and "${" not in params[key]
    }
    return ",".join(sorted(named))


def _same_workload(a: str, b: str) -> bool:
    """Reported owners (`kind/name`) match exactly; a name guessed from a pod's name, which
    knows no kind, matches an owner of any kind with that name."""
    if "/" in a and "/" in b:
        return a == b
    return a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


def _named_workload(pod: str) -> str:
    """For a pod with no owner reported, the workload its name suggests: a Deployment's
    `NAME-HASH-SUFFIX`, else a StatefulSet's `NAME-ORDINAL` (or a bare pod's own name)."""
    parts = pod.removeprefix(_POD).split("-")
    if len(parts) > 1 and parts[-1].isdigit():
        return "-".join(parts[:-1])
    return "-".join(parts[:-2]) if len(parts) >= 3 else "-".join(parts)


def _object_named(placeholder: str) -> str:
    """The binding object a placeholder names: a dependency, another workload, or '' (service)."""
    parts = placeholder.split(".")
    if len(parts) < 3:
        return ""
    return ".".join(parts[1:3]) if parts[1] == "dependencies" else parts[1]


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


def _fact(symptom: Symptom, finding: Finding) -> str:
    if symptom.contains is not None:
        return f"{finding.name} contains {symptom.contains!r}"
    return f"{finding.name}={finding.value}"


def _describe(symptom: Symptom, finding: Finding) -> str:
    where = f" on {finding.subject}" if finding.subject else ""
    return f"{symptom.text}: {_fact(symptom, finding)}{where}"


def _describe_all(symptom: Symptom, finding: Finding, subjects: list[str]) -> str:
    named = ", ".join(subjects[:_NAMED]) + (", ..." if len(subjects) > _NAMED else "")
    return f"{symptom.text}: {_fact(symptom, finding)} on all {len(subjects)} ({named})"
