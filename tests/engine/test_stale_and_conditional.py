"""Causes read current findings only; a cause's follow-up checklist comes only with that cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config, ServiceBinding
from bot.engine import checklist
from bot.engine.incident import Actor, Approval, Incident, StepRun
from bot.engine.root_causes import suggest_causes
from bot.engine.template_data import template_context
from bot.executors.base import CheckResult, Finding, Preview
from bot.playbooks.checks import semantic_problems
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = TemplateRenderer(REPO / "templates")
OPENED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ONCALL = Actor(id="oncall", name="oncall")


@pytest.fixture(scope="module")
def playbooks() -> dict[str, Playbook]:
    return load_playbooks(REPO / "playbooks", TEMPLATES)


def _incident(playbook_id: str) -> Incident:
    return Incident(
        id="INC-0003",
        playbook_id=playbook_id,
        service="api",
        severity="critical",
        opened_at=OPENED,
        opened_by="oncall",
    )


def _ran(incident: Incident, step: str, minute: int, *findings: Finding) -> None:
    at = OPENED + timedelta(minutes=minute)
    result = CheckResult(status="problem", summary=step, findings=list(findings))
    incident.step_runs[step] = StepRun.of(step, result, at, at, ONCALL)


def _oom(pod: str) -> Finding:
    return Finding(name="pod.last_termination_reason", value="OOMKilled", subject=f"pod/{pod}")


def test_causes_forget_pods_a_later_look_no_longer_sees(playbooks: dict[str, Playbook]) -> None:
    playbook = playbooks["api-down"]
    symptom = next(
        s
        for c in playbook.root_causes()
        for s in c.symptoms
        if s.finding == "pod.last_termination_reason" and not s.step
    )
    incident = _incident("api-down")
    steps = [step.id for _, step in playbook.steps() if step.kind == "diagnostic"]
    first, later = steps[0], steps[1]
    _ran(incident, first, 2, _oom("ecap-api-old-1"))
    before = [e for m in suggest_causes(playbook, incident) for e in m.evidence]
    assert any("pod/ecap-api-old-1" in e for e in before), before

    # After a rollback another step looks at the new pods: none was OOM-killed.
    fine = Finding(name="pod.last_termination_reason", value="Completed", subject="pod/new-1")
    _ran(incident, later, 9, fine)
    after = [e for m in suggest_causes(playbook, incident) for e in m.evidence]
    assert not any("ecap-api-old-1" in e for e in after), after
    assert symptom.text not in " ".join(after)


def test_the_oom_follow_up_comes_only_after_an_oom(playbooks: dict[str, Playbook]) -> None:
    playbook = playbooks["api-down-compose"]
    config = Config(
        services={"api": ServiceBinding.model_validate({"platform": "docker", "container": "a"})}
    )
    crashed = _incident(playbook.id)
    _ran(crashed, "container-status", 1, Finding(name="docker.running", value=False))
    ids = [c.id for c in checklist.applicable(playbook, crashed)]
    assert "oom-follow-up" not in ids
    assert "prevention-short-term" in ids
    document = TEMPLATES.render(
        playbook.post_incident_document, template_context(crashed, playbook, config, OPENED)
    )
    assert "File bug for memory leak" not in document
    assert "Enable container auto-restart" in document

    oom = _incident(playbook.id)
    _ran(oom, "container-status", 1, Finding(name="docker.oom_killed", value=True))
    assert "oom-follow-up" in [c.id for c in checklist.applicable(playbook, oom)]
    document = TEMPLATES.render(
        playbook.post_incident_document, template_context(oom, playbook, config, OPENED)
    )
    assert "File bug for memory leak" in document

    # Cured by the cause's own fix, the evidence gone since: still an OOM incident.
    cured = _incident(playbook.id)
    _ran(cured, "container-status", 5, Finding(name="docker.oom_killed", value=False))
    raised = Approval(
        id="A1",
        step_id="oom-raise-limit",
        title="Increase the memory limit to 4g",
        destructive=False,
        preview=Preview(summary="4g"),
        requested_by=ONCALL,
        requested_at=OPENED,
        expires_at=OPENED + timedelta(minutes=30),
        state="applied",
    )
    cured.approvals[raised.id] = raised
    assert "oom-follow-up" in [c.id for c in checklist.applicable(playbook, cured)]
    cured.approvals["A1"] = raised.model_copy(update={"state": "denied"})
    assert "oom-follow-up" not in [c.id for c in checklist.applicable(playbook, cured)]


def test_a_checklist_must_name_a_cause_of_its_playbook(playbooks: dict[str, Playbook]) -> None:
    playbook = playbooks["api-down-compose"]
    wrong = playbook.post_incident[0].model_copy(update={"cause": "out-of-mem"})
    broken = playbook.model_copy(update={"post_incident": [wrong, *playbook.post_incident[1:]]})
    problems = list(semantic_problems(broken, TEMPLATES))
    assert (
        ("post_incident", 0, "cause"),
        "no root cause 'out-of-mem' in this playbook",
    ) in problems
