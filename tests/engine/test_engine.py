"""The engine against a sandbox cluster: diagnostics, previews, failures, bad input, documents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident, StepRun
from bot.errors import BotError, InvalidRequest, NotFound
from tests.engine.conftest import Kube, MakeEngine
from tests.support.redis_server import free_port


async def opened(engine: Engine, sandbox: Sandbox, actor: Actor) -> Incident:
    return await engine.open("api-down", sandbox.service_name, actor, "API returns 503")


def assert_one_line_error(run: StepRun) -> None:
    assert run.status == "error"
    assert run.summary.strip()
    assert "\n" not in run.summary
    assert "Traceback" not in run.summary


def by_step(runs: list[StepRun]) -> dict[str, StepRun]:
    return {run.step_id: run for run in runs}


async def test_a_fix_request_previews_without_changing_the_cluster(
    engine: Engine, sandbox: Sandbox, kube: Kube, lead: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    before = kube.deployment()
    replicasets = kube.replicaset_names()

    approval = await engine.request_fix(incident.id, "scale-up-resources", lead)

    assert approval.state == "pending"
    assert approval.preview.error is None
    assert "2Gi" in approval.preview.after
    assert "2Gi" not in approval.preview.before
    after = kube.deployment()
    assert after["spec"] == before["spec"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert kube.replicaset_names() == replicasets
    stored = await engine.get(incident.id)
    assert [e.event for e in stored.timeline] == ["opened", "fix-requested"]
    # Asking again while the first request is pending returns that request, not a second one.
    again = await engine.request_fix(incident.id, "scale-up-resources", lead)
    assert again.id == approval.id


async def test_the_assess_stage_finds_the_crash_loop_and_points_at_resources(
    engine: Engine, sandbox: Sandbox, lead: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)

    runs = by_step(await engine.run_stage(incident.id, lead))

    assert set(runs) == {"pods", "health", "lb-health"}
    assert runs["pods"].status == "problem"
    assert "CrashLoopBackOff" in runs["pods"].summary
    causes = engine.causes(await engine.get(incident.id))
    assert causes[0].cause.title == "Resource exhaustion"
    assert any("OOMKilled" in evidence for evidence in causes[0].evidence)


@pytest.mark.parametrize("scenario", ["database-down"])
async def test_a_database_outage_points_at_database_connections(
    engine: Engine, sandbox: Sandbox, lead: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)

    await engine.advance(incident.id, lead, "investigate-application")
    application = by_step(await engine.run_stage(incident.id, lead))
    await engine.advance(incident.id, lead, "investigate-dependencies")
    dependencies = by_step(await engine.run_stage(incident.id, lead))

    assert application["db-connectivity"].status == "problem"
    assert dependencies["postgres-pods"].status == "problem"
    causes = engine.causes(await engine.get(incident.id))
    assert causes[0].cause.title == "Database connection issues"


@pytest.mark.parametrize("scenario", ["pending-resources"])
async def test_pending_pods_point_at_resource_exhaustion(
    engine: Engine, sandbox: Sandbox, lead: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)

    await engine.run_stage(incident.id, lead)

    causes = engine.causes(await engine.get(incident.id))
    assert causes[0].cause.title == "Resource exhaustion"
    assert [s.text for s in causes[0].matched] == ["Pods in Pending state"]


async def test_a_forbidden_read_is_a_one_line_error_and_the_engine_goes_on(
    engine: Engine, sandbox: Sandbox, lead: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    sandbox.forbid("pods")

    run = await engine.run_step(incident.id, "pods", lead)

    assert_one_line_error(run)
    assert run.summary.startswith("forbidden:") and "(403)" in run.summary
    history = await engine.run_step(incident.id, "history", lead)
    assert history.status != "error"
    stored = await engine.get(incident.id)
    assert stored.step_runs["pods"].status == "error"
    assert stored.step_runs["history"].status == history.status


@pytest.fixture
def unreachable_kubeconfig(kubeconfig: str, tmp_path: Path) -> str:
    """The sandbox's kubeconfig, pointing at a port nothing listens on."""
    config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{free_port()}"
    path = tmp_path / "unreachable-kubeconfig"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


async def test_an_unreachable_cluster_is_a_one_line_error_and_the_engine_goes_on(
    make_engine: MakeEngine, sandbox: Sandbox, unreachable_kubeconfig: str, lead: Actor
) -> None:
    engine = make_engine(kubeconfig=unreachable_kubeconfig)
    incident = await opened(engine, sandbox, lead)

    runs = by_step(await engine.run_stage(incident.id, lead))

    assert_one_line_error(runs["pods"])
    assert "cluster unreachable" in runs["pods"].summary
    # The HTTP checks do not need the cluster and still answer.
    assert runs["health"].status == "problem"
    again = await engine.run_step(incident.id, "pods", lead)
    assert_one_line_error(again)
    assert (await engine.get(incident.id)).step_runs["health"].status == "problem"


async def test_a_missing_binding_value_is_a_one_line_error(
    make_engine: MakeEngine, sandbox: Sandbox, lead: Actor
) -> None:
    binding = ServiceBinding.model_validate({**sandbox.binding(), "dependencies": {}})
    engine = make_engine(config=Config(services={sandbox.service_name: binding}))
    incident = await opened(engine, sandbox, lead)

    run = await engine.run_step(incident.id, "redis-connectivity", lead)

    assert_one_line_error(run)
    assert run.summary == "service 'ecap-api' has no dependencies.redis.url configured"


async def stored_json(engine: Engine, incident_id: str) -> str:
    record = await engine.store.load(incident_id)
    assert record is not None
    return record.body


async def refused(
    engine: Engine, incident_id: str, error: type[BotError], call: Awaitable[Any]
) -> BotError:
    """Assert the call fails with a one-line `error` and leaves the stored incident as it was."""
    before = await stored_json(engine, incident_id)
    with pytest.raises(error) as raised:
        await call
    assert "\n" not in str(raised.value) and str(raised.value).strip()
    assert await stored_json(engine, incident_id) == before
    return raised.value


async def test_bad_requests_are_refused_and_change_nothing(
    engine: Engine, sandbox: Sandbox, lead: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    await engine.run_step(incident.id, "pods", lead)
    i = incident.id

    assert "INC-9999" in str(await refused(engine, i, NotFound, engine.get("INC-9999")))
    await refused(engine, i, NotFound, engine.run_step("INC-9999", "pods", lead))
    await refused(engine, i, NotFound, engine.run_step(i, "no-such-step", lead))
    await refused(engine, i, NotFound, engine.request_fix(i, "no-such-step", lead))
    await refused(engine, i, NotFound, engine.approve(i, "A1", lead))
    await refused(engine, i, NotFound, engine.deny(i, "A1", lead))
    await refused(engine, i, NotFound, engine.advance(i, lead, "no-such-stage"))
    await refused(engine, i, NotFound, engine.render_status(i, "no-such-template"))
    await refused(engine, i, NotFound, engine.open("no-such-playbook", sandbox.service_name, lead))
    error = await refused(engine, i, InvalidRequest, engine.run_step(i, "restart", lead))
    assert "is a fix step, not a diagnostic" in str(error)
    await refused(engine, i, InvalidRequest, engine.request_fix(i, "pods", lead))
    await refused(engine, i, InvalidRequest, engine.mark_done(i, "pods", lead))
    await refused(engine, i, InvalidRequest, engine.verify(i, "pods", lead))
    await refused(engine, i, InvalidRequest, engine.post_status(i, "update", " \n ", lead))
    await refused(engine, i, BotError, engine.open("api-down", "no-such-service", lead))


async def test_a_resolved_incident_refuses_further_actions(
    engine: Engine, sandbox: Sandbox, lead: Actor, second: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    approval = await engine.request_fix(incident.id, "scale-up", lead)
    await engine.resolve(incident.id, lead, "bad deploy", "rolled back")
    i = incident.id
    assert (await engine.get(i)).approvals[approval.id].state == "expired"

    actions: list[Callable[[], Awaitable[Any]]] = [
        lambda: engine.run_stage(i, lead),
        lambda: engine.run_step(i, "pods", lead),
        lambda: engine.request_fix(i, "scale-up", lead),
        lambda: engine.approve(i, approval.id, second),
        lambda: engine.deny(i, approval.id, second),
        lambda: engine.verify(i, "verify-health", lead),
        lambda: engine.post_status(i, "update", "still down", lead),
        lambda: engine.mark_done(i, "customer-reports", lead),
        lambda: engine.advance(i, lead),
        lambda: engine.claim_commander(i, second),
        lambda: engine.resolve(i, second, "something else"),
    ]
    for action in actions:
        await refused(engine, i, InvalidRequest, action())


async def test_status_updates_render_the_incident(
    engine: Engine, sandbox: Sandbox, lead: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)

    initial = await engine.render_status(incident.id, "initial")
    assert initial.splitlines()[0] == f"[CRITICAL] {incident.id} · ecap-api: investigating"
    assert "Updates will be provided every 15 min." in initial
    with pytest.raises(InvalidRequest, match="needs an ETA"):
        await engine.render_status(incident.id, "extended")
    with pytest.raises(InvalidRequest, match="needs an ETA"):
        await engine.render_status(incident.id, "extended", eta="   ")
    extended = await engine.render_status(incident.id, "extended", eta="45m")
    assert "Current ETA for resolution: 45m" in extended
    assert f"{incident.id} · ecap-api: extended outage" in extended

    posted = await engine.post_status(incident.id, "initial", initial, lead)
    assert posted.status_updates[-1].text == initial.strip()
    assert posted.timeline[-1].event == "status-update"


async def test_the_post_incident_document_holds_the_whole_timeline(
    engine: Engine, sandbox: Sandbox, lead: Actor, second: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    i = incident.id
    await engine.claim_commander(i, lead)
    await engine.run_stage(i, lead)
    denied = await engine.request_fix(i, "scale-up", lead)
    await engine.deny(i, denied.id, second, "pods are OOMKilled, more replicas will not help")
    await engine.post_status(i, "initial", await engine.render_status(i, "initial"), lead)
    await engine.mark_done(i, "customer-reports", lead, "no customer reports yet")
    fix = await engine.request_fix(i, "deploy-last-good", lead)
    await engine.approve(i, fix.id, second)
    await engine.resolve(i, lead, "ecap/api:2.5.0 needs more memory", "rolled back to 2.4.0")

    document = await engine.post_incident_document(i)

    timeline = (await engine.get(i)).timeline
    assert len(timeline) >= 10
    for entry in timeline:
        assert entry.text.replace("|", "\\|").replace("\n", " ") in document, entry
    assert f"Post-incident report: {i}" in document
    assert "**Root Cause:** ecap/api:2.5.0 needs more memory" in document
    assert "**Resolution:** rolled back to 2.4.0" in document
    assert "**Commander:** lead" in document
    assert "approved by second" in document
    assert "Conduct post-incident review" in document
