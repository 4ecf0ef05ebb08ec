"""How symptoms count: `all` pods, `rules_out`, specificity before coverage, current per scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.engine.incident import Actor, Incident, StepRun
from bot.engine.root_causes import suggest_causes
from bot.executors.base import CheckResult, Finding
from bot.playbooks.models import Playbook, Symptom

OPENED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ONCALL = Actor(id="oncall", name="oncall")


def _diagnostic(step_id: str, action: dict[str, Any]) -> dict[str, Any]:
    return {"id": step_id, "kind": "diagnostic", "title": step_id, "action": action}


def _playbook(*causes: dict[str, Any]) -> Playbook:
    return Playbook.model_validate(
        {
            "id": "api",
            "title": "API down",
            "severity": "critical",
            "platform": "kubernetes",
            "stages": [
                {
                    "id": "look",
                    "title": "Look",
                    "steps": [
                        _diagnostic("pods", {"type": "k8s.pods"}),
                        _diagnostic("describe", {"type": "k8s.describe_pods"}),
                        _diagnostic("health", {"type": "http.get", "url": "${service.health_url}"}),
                        _diagnostic(
                            "db-pods",
                            {
                                "type": "k8s.pods",
                                "selector": "${service.dependencies.postgres.selector}",
                            },
                        ),
                    ],
                    "root_causes": list(causes),
                }
            ],
        }
    )


def _cause(cause_id: str, *symptoms: dict[str, Any]) -> dict[str, Any]:
    return {"id": cause_id, "title": cause_id, "symptoms": list(symptoms)}


def _incident() -> Incident:
    return Incident(
        id="INC-0001",
        playbook_id="api",
        service="api",
        severity="critical",
        opened_at=OPENED,
        opened_by="oncall",
    )


def _ran(incident: Incident, step: str, minute: int, *findings: Finding) -> None:
    at = OPENED + timedelta(minutes=minute)
    result = CheckResult(status="problem", summary=step, findings=list(findings))
    incident.step_runs[step] = StepRun.of(step, result, at, at, ONCALL)


def _pods(*states: tuple[str, str]) -> list[Finding]:
    """A full listing: each pod's last termination reason, as `k8s.pods` reports it."""
    found = [
        Finding(name="pod.last_termination_reason", value=reason, subject=f"pod/{name}")
        for name, reason in states
    ]
    found += [Finding(name="pod.phase", value="Running", subject=f"pod/{n}") for n, _ in states]
    return [*found, Finding(name="pods.total", value=len(states))]


OOM_ALL = {
    "text": "Every pod OOMKilled",
    "step": "pods",
    "finding": "pod.last_termination_reason",
    "equals": "OOMKilled",
    "all": True,
}


def test_all_needs_every_pod_the_check_listed() -> None:
    playbook = _playbook(_cause("oom", OOM_ALL))
    some = _incident()
    _ran(some, "pods", 1, *_pods(("a", "OOMKilled"), ("b", "Error")))
    assert suggest_causes(playbook, some) == []

    every = _incident()
    _ran(every, "pods", 1, *_pods(("a", "OOMKilled"), ("b", "OOMKilled")))
    [match] = suggest_causes(playbook, every)
    assert match.evidence == [
        "Every pod OOMKilled: pod.last_termination_reason=OOMKilled on all 2 (pod/a, pod/b)"
    ]


def test_a_pod_without_the_finding_keeps_all_from_holding() -> None:
    """A Pending pod has no waiting reason: "every pod waits for its image" is then false."""
    waiting = {
        "text": "Every pod waits for its image",
        "step": "pods",
        "finding": "pod.waiting_reason",
        "contains": "Image",
        "all": True,
    }
    playbook = _playbook(_cause("image", waiting))
    incident = _incident()
    findings = _pods(("a", "Error"), ("b", "Error"))
    findings.append(Finding(name="pod.waiting_reason", value="ImagePullBackOff", subject="pod/a"))
    _ran(incident, "pods", 1, *findings)
    assert suggest_causes(playbook, incident) == []


def test_a_symptom_that_rules_out_hides_the_cause_whatever_else_matched() -> None:
    pending = {"text": "Pending", "step": "pods", "finding": "pod.phase", "equals": "Pending"}
    image = {
        "text": "Waiting for its image",
        "step": "pods",
        "finding": "pod.waiting_reason",
        "contains": "Image",
        "rules_out": True,
    }
    playbook = _playbook(_cause("constrained", pending, image))
    pulling = _incident()
    _ran(
        pulling,
        "pods",
        1,
        Finding(name="pod.phase", value="Pending", subject="pod/a"),
        Finding(name="pod.waiting_reason", value="ImagePullBackOff", subject="pod/a"),
    )
    assert suggest_causes(playbook, pulling) == []

    unscheduled = _incident()
    _ran(unscheduled, "pods", 1, Finding(name="pod.phase", value="Pending", subject="pod/a"))
    [match] = suggest_causes(playbook, unscheduled)
    assert match.cause.id == "constrained"
    # What rules a cause out is not one of its checkable symptoms.
    assert match.checkable == 1


def test_specific_evidence_beats_a_cause_whose_one_generic_symptom_matched() -> None:
    """A threshold is a weaker match than a named value; coverage decides only between equals."""
    lb = {"text": "Balancer failing", "step": "health", "finding": "http.status", "at_least": 500}
    oom = {
        "text": "OOMKilled",
        "step": "pods",
        "finding": "pod.last_termination_reason",
        "equals": "OOMKilled",
    }
    never = {"text": "Pending", "step": "pods", "finding": "pod.phase", "equals": "Pending"}
    # The network cause comes first in the playbook and has the better coverage (1 of 1).
    playbook = _playbook(_cause("network", lb), _cause("memory", oom, never, dict(never)))
    incident = _incident()
    _ran(incident, "pods", 1, *_pods(("a", "OOMKilled")))
    _ran(incident, "health", 1, Finding(name="http.status", value=503, subject="lb"))
    assert [m.cause.id for m in suggest_causes(playbook, incident)] == ["memory", "network"]


def test_between_equal_evidence_the_larger_share_of_symptoms_wins() -> None:
    crash = {"text": "Error", "step": "pods", "finding": "pod.last_termination_reason"}
    other = {"text": "Pending", "step": "pods", "finding": "pod.phase", "equals": "Pending"}
    playbook = _playbook(
        _cause("wide", {**crash, "equals": "Error"}, other),
        _cause("narrow", {**crash, "equals": "Error"}),
    )
    incident = _incident()
    _ran(incident, "pods", 1, *_pods(("a", "Error")))
    assert [m.cause.id for m in suggest_causes(playbook, incident)] == ["narrow", "wide"]


def test_a_look_at_a_dependencys_pods_leaves_the_services_own_current() -> None:
    """Before: the newest `pod.phase` of any step won, so listing postgres hid Pending pods."""
    pending = {"text": "Pending", "finding": "pod.phase", "equals": "Pending"}
    playbook = _playbook(_cause("constrained", pending))
    incident = _incident()
    _ran(incident, "pods", 1, Finding(name="pod.phase", value="Pending", subject="pod/api-1"))
    _ran(incident, "db-pods", 5, Finding(name="pod.phase", value="Running", subject="pod/pg-0"))
    [match] = suggest_causes(playbook, incident)
    assert match.evidence == ["Pending: pod.phase=Pending on pod/api-1"]


def test_pods_a_later_listing_no_longer_shows_are_no_evidence_even_from_their_own_step() -> None:
    failing = {
        "text": "Cannot be scheduled",
        "step": "describe",
        "finding": "event.reason",
        "equals": "FailedScheduling",
    }
    playbook = _playbook(_cause("constrained", failing))
    incident = _incident()
    event = Finding(name="event.reason", value="FailedScheduling", subject="pod/api-5d8f9-x2k4q")
    _ran(incident, "describe", 1, event)
    assert len(suggest_causes(playbook, incident)) == 1

    # The pods were replaced; listing them again finds only the new one.
    _ran(incident, "pods", 6, *_pods(("api-5d8f9-m7p2z", "Completed")))
    assert suggest_causes(playbook, incident) == []


def test_a_listing_of_the_service_does_not_drop_a_dependencys_pod() -> None:
    crashing = {
        "text": "Database crash-looping",
        "step": "events",
        "finding": "event.message",
        "contains": "restarting failed container postgres",
    }
    playbook = _playbook(_cause("database", crashing))
    incident = _incident()
    message = "Back-off restarting failed container postgres"
    _ran(
        incident,
        "events",
        1,
        Finding(name="event.message", value=message, subject="pod/postgres-0"),
    )
    # The service's own pods, listed after the events: the database pod is not among them,
    # and not theirs to drop.
    _ran(incident, "pods", 6, *_pods(("backend-7f9c4-q2x8z", "Error")))
    assert [m.cause.id for m in suggest_causes(playbook, incident)] == ["database"]


def _owned(*pods: tuple[str, str]) -> list[Finding]:
    """Each pod's workload, as `k8s.pods` reports it from the pod's ownerReferences."""
    return [Finding(name="pod.owner", value=owner, subject=f"pod/{pod}") for pod, owner in pods]


def test_a_replaced_pod_whose_name_fits_no_pattern_is_gone_by_its_owner() -> None:
    """A DaemonSet's pods are `NAME-SUFFIX`: by name, each old pod would be its own workload
    and stay evidence after a restart replaced it."""
    failing = {"text": "Crashed", "finding": "event.reason", "equals": "BackOff"}
    playbook = _playbook(_cause("crash", failing))
    incident = _incident()
    event = Finding(name="event.reason", value="BackOff", subject="pod/agent-x2k4q")
    _ran(incident, "describe", 1, event, *_owned(("agent-x2k4q", "daemonset/agent")))
    assert len(suggest_causes(playbook, incident)) == 1

    _ran(
        incident,
        "pods",
        6,
        *_pods(("agent-m7p2z", "Completed")),
        *_owned(("agent-m7p2z", "daemonset/agent")),
    )
    assert suggest_causes(playbook, incident) == []


def test_a_listing_of_the_service_does_not_drop_a_pod_of_a_workload_named_like_it() -> None:
    """A Job `api-migrate` makes `api-migrate-q2x8z`, which reads as a pod of Deployment `api`
    by its name; its owner says it is not, so listing the service's pods leaves it alone."""
    failing = {
        "text": "Migration failed",
        "finding": "event.reason",
        "equals": "BackoffLimitExceeded",
    }
    playbook = _playbook(_cause("migration", failing))
    incident = _incident()
    event = Finding(
        name="event.reason", value="BackoffLimitExceeded", subject="pod/api-migrate-q2x8z"
    )
    _ran(incident, "describe", 1, event, *_owned(("api-migrate-q2x8z", "job/api-migrate")))
    _ran(
        incident,
        "pods",
        6,
        *_pods(("api-7f9c4b8d6-m7p2z", "Error")),
        *_owned(("api-7f9c4b8d6-m7p2z", "deployment/api")),
    )
    assert [m.cause.id for m in suggest_causes(playbook, incident)] == ["migration"]


def test_a_pod_with_no_owner_reported_is_matched_by_its_name() -> None:
    """Findings from before owners were reported still meet a listing that reports them."""
    failing = {"text": "Crashed", "finding": "event.reason", "equals": "BackOff"}
    playbook = _playbook(_cause("crash", failing))
    incident = _incident()
    _ran(
        incident,
        "describe",
        1,
        Finding(name="event.reason", value="BackOff", subject="pod/api-5d8f9-x2k4q"),
    )
    _ran(
        incident,
        "pods",
        6,
        *_pods(("api-5d8f9-m7p2z", "Completed")),
        *_owned(("api-5d8f9-m7p2z", "deployment/api")),
    )
    assert suggest_causes(playbook, incident) == []


@pytest.mark.parametrize(
    ("fields", "specificity"),
    [
        ({"equals": "OOMKilled"}, 3),
        ({"contains": "Traceback"}, 3),
        ({"at_least": 90}, 2),
        ({"at_most": 30}, 2),
        ({"not_equals": 0}, 3),
        ({"equals": "OOMKilled", "all": True}, 4),
    ],
)
def test_a_named_value_is_more_specific_than_a_bound(
    fields: dict[str, Any], specificity: int
) -> None:
    symptom = Symptom.model_validate({"text": "x", "finding": "pod.phase", **fields})
    assert symptom.specificity == specificity
    assert Symptom.model_validate({"text": "shown only"}).specificity == 0
