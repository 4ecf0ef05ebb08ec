"""The service-down playbook (seed 003) as the engine runs it: escalation, approvals, messages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from bot.app import build_executors
from bot.config import Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.timers import next_escalation, pending_timers
from bot.errors import InvalidRequest, NotAllowed
from bot.playbooks.loader import lint_file
from bot.playbooks.models import CommunicationStep, DiagnosticStep, FixStep, Playbook
from bot.store import SqliteStore
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEAD = Actor(id="U-LEAD", name="lead")
SECOND = Actor(id="U-SECOND", name="second")


@pytest.fixture(scope="module")
def templates() -> TemplateRenderer:
    return TemplateRenderer(REPO / "templates")


@pytest.fixture(scope="module")
def playbook(templates: TemplateRenderer) -> Playbook:
    # Only this file: another playbook mid-edit must not fail these tests.
    loaded, problems = lint_file(REPO / "playbooks" / "service-down.yml", templates)
    assert loaded is not None, [str(p) for p in problems]
    return loaded


@pytest.fixture
async def engine(
    playbook: Playbook,
    templates: TemplateRenderer,
    sandbox: Sandbox,
    kubeconfig: str,
    tmp_path: Path,
) -> AsyncIterator[Engine]:
    binding = ServiceBinding.model_validate(sandbox.binding())
    config = Config(services={sandbox.service_name: binding}, approvers=[LEAD.id, SECOND.id])
    store = SqliteStore(tmp_path / "state" / "incidents.db")
    executors = build_executors(kubeconfig)
    yield Engine({playbook.id: playbook}, config, store, executors, templates)
    await executors.close()
    await store.close()


class Pods:
    """The plain kubernetes client on the sandbox, to see what a fix really did."""

    def __init__(self, kubeconfig: str) -> None:
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=cfg
        )
        self.api = kubernetes.client.ApiClient(cfg)
        self.core = kubernetes.client.CoreV1Api(self.api)

    def uid(self, name: str) -> str | None:
        try:
            raw: Any = self.core.read_namespaced_pod(name, "default", _preload_content=False)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        found: dict[str, Any] = json.loads(raw.data)
        return str(found["metadata"]["uid"])


@pytest.fixture
def pods(kubeconfig: str) -> Iterator[Pods]:
    client = Pods(kubeconfig)
    yield client
    client.api.close()  # type: ignore[no-untyped-call]


async def opened(engine: Engine, sandbox: Sandbox) -> Incident:
    return await engine.open("service-down", sandbox.service_name, LEAD, "ServiceDown firing")


# --- escalation --------------------------------------------------------------------------


def test_escalation_nudges_at_15_and_30_minutes_and_level_1_is_the_runbook_itself(
    playbook: Playbook,
) -> None:
    incident = Incident(
        id="INC-0001",
        playbook_id=playbook.id,
        service="marketplace-backend",
        severity=playbook.severity,
        opened_at=OPENED,
        opened_by="oncall",
    )

    timers = [t for t in pending_timers(incident, playbook) if t.kind == "escalation"]

    # "Level 1: On-call Engineer (0-15 minutes): follow this runbook" is not a nudge.
    assert [(t.level.level, t.level.title, t.due - OPENED) for t in timers if t.level] == [
        (2, "Senior Engineer", timedelta(minutes=15)),
        (3, "Engineering Manager", timedelta(minutes=30)),
    ]
    assert [level.level for level in playbook.escalation if not level.triggered()] == [1]
    assert next_escalation(incident, playbook, OPENED + timedelta(minutes=1)) == (
        "level 2 (Senior Engineer) in 14 min"
    )


def test_escalation_criteria_are_the_runbooks_bullets(playbook: Playbook) -> None:
    criteria = {level.level: level.criteria for level in playbook.escalation}
    assert criteria == {
        1: ["Follow this runbook", "Attempt immediate recovery", "Communicate with team"],
        2: [
            "Deep technical investigation",
            "Coordinate with infrastructure team",
            "Make architectural decisions",
        ],
        3: ["Customer communication", "Resource allocation", "External vendor coordination"],
    }


# --- root causes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "database_suspected"), [("database-down", True), ("oom-bad-deploy", False)]
)
async def test_the_database_branch_is_suggested_only_when_the_database_logs_fail(
    engine: Engine, sandbox: Sandbox, database_suspected: bool
) -> None:
    incident = await opened(engine, sandbox)
    for step_id in ("pods", "endpoints", "db-logs"):
        await engine.run_step(incident.id, step_id, LEAD)

    causes = {match.cause.id: match for match in engine.causes(await engine.get(incident.id))}

    # Either way the service's own pods are down, which is the backend branch.
    assert "backend-down" in causes
    assert ("database-down" in causes) is database_suspected
    if database_suspected:
        assert [s.text for s in causes["database-down"].matched] == [
            "Fatal errors in the database logs"
        ]


# --- destructive fixes -------------------------------------------------------------------


def test_only_the_database_and_redis_pod_deletes_are_destructive(playbook: Playbook) -> None:
    fixes = [step for _, step in playbook.steps() if isinstance(step, FixStep)]
    destructive = {step.id: step.action.model_dump() for step in fixes if step.destructive}
    assert destructive == {
        "restart-postgres": {
            "type": "k8s.delete_pod",
            "namespace": None,
            "pod": "${service.dependencies.postgres.pod}",
        },
        "restart-redis": {
            "type": "k8s.delete_pod",
            "namespace": None,
            "pod": "${service.dependencies.redis.pod}",
        },
    }


@pytest.mark.parametrize(
    ("step_id", "pod"), [("restart-postgres", "postgres-0"), ("restart-redis", "redis-0")]
)
async def test_a_dependency_pod_delete_needs_a_second_approver(
    engine: Engine, sandbox: Sandbox, pods: Pods, step_id: str, pod: str
) -> None:
    incident = await opened(engine, sandbox)
    before = pods.uid(pod)
    assert before is not None
    approval = await engine.request_fix(incident.id, step_id, LEAD)
    assert approval.destructive
    assert pod in approval.preview.summary

    with pytest.raises(NotAllowed, match="destructive"):
        await engine.approve(incident.id, approval.id, LEAD)

    # Refused by the requester: the pod is the same one, the request still waits.
    assert pods.uid(pod) == before
    assert (await engine.get(incident.id)).approvals[approval.id].state == "pending"

    done = await engine.approve(incident.id, approval.id, SECOND)

    assert done.state == "applied"
    assert pods.uid(pod) != before


# --- secrets -----------------------------------------------------------------------------


def test_database_url_is_read_redacted_from_the_spec_never_printed_in_a_pod(
    playbook: Playbook,
) -> None:
    found = playbook.find_step("backend-db-env")
    assert found is not None
    step = found[1]
    assert isinstance(step, DiagnosticStep)
    assert step.action.model_dump()["type"] == "k8s.env"
    assert step.action.model_dump()["prefix"] == "DATABASE_"
    assert step.note and "password" in step.note
    for _, other in playbook.steps():
        if isinstance(other, DiagnosticStep) and other.action.model_dump()["type"] == "k8s.exec":
            argv = " ".join(other.action.model_dump()["command"])
            assert "process.env" not in argv and "DATABASE_URL" not in argv, other.id


# --- communication -----------------------------------------------------------------------


def test_slack_alert_and_status_page_are_communication_steps_for_their_audiences(
    playbook: Playbook,
) -> None:
    audiences = {
        step.id: (step.template, step.audience)
        for _, step in playbook.steps()
        if isinstance(step, CommunicationStep)
    }
    assert audiences["notify-slack"] == ("alert", "incidents-channel")
    assert audiences["status-page"] == ("status-page", "status-page")
    # The bot reaches affected users through the status page.
    assert audiences["notify-users"] == ("customers", "status-page")
    assert audiences["customer-eta"] == ("eta", "status-page")
    assert playbook.communications["alert"].audience == ["internal", "incidents-channel"]
    status_page = playbook.communications["status-page"]
    assert "status-page" in status_page.audience and status_page.impact == "major"


async def test_the_messages_render_for_the_service(engine: Engine, sandbox: Sandbox) -> None:
    incident = await opened(engine, sandbox)

    alert = await engine.render_status(incident.id, "alert")
    status = await engine.render_status(incident.id, "status-page")
    eta = await engine.render_status(incident.id, "eta", eta="45m")

    assert alert.startswith(
        f"🚨 Service Down Alert: {sandbox.service_name} is experiencing issues. "
        "Investigation in progress."
    )
    assert status.splitlines()[:2] == [
        "Service Disruption",
        "Status: investigating · Impact: major",
    ]
    assert "Estimated time to resolution: 45m" in eta
    for text in (alert, status, eta):
        assert "web3" not in text.lower(), "a message names the runbook's company, not the service"


async def test_the_eta_message_refuses_to_render_without_an_eta(
    engine: Engine, sandbox: Sandbox
) -> None:
    incident = await opened(engine, sandbox)

    with pytest.raises(InvalidRequest, match="needs an ETA"):
        await engine.render_status(incident.id, "eta")

    # The incident is untouched and the other messages still render.
    stored = await engine.get(incident.id)
    assert stored.status == "open" and not stored.status_updates
    assert "Service Down Alert" in await engine.render_status(incident.id, "alert")
