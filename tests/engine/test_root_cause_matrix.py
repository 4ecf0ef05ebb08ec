"""The root-cause matrix: every drill scenario's diagnostics point first at its root cause.

For each scenario of both stand-ins (a scenario added later joins by itself), the playbook's
diagnostics run stage by stage through the engine, as a responder's `run` does in each stage.
Then the top suggestion must be the scenario's `root_cause`, no listed cause may show a symptom
that rules it out, and the evidence may name only pods and containers that exist. On Kubernetes
the service's pods are then replaced and the first stage run again: the evidence follows them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import kubernetes
import pytest
import yaml

from bot.app import build_executors
from bot.config import Config, ServiceBinding
from bot.drills.catalog import DrillScenario, drill_scenarios
from bot.drills.docker import DockerSandbox
from bot.drills.docker import load_scenario as load_docker_scenario
from bot.drills.kubernetes import Sandbox
from bot.drills.kubernetes.scenario import load_scenario as load_kubernetes_scenario
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.root_causes import CauseMatch, holds
from bot.executors.kubernetes.params import K8sPods
from bot.playbooks.models import DiagnosticStep, Playbook, RootCause
from bot.store import SqliteStore
from bot.templates import TemplateRenderer

SCENARIOS = drill_scenarios()
ONCALL = Actor(id="U-ONCALL", name="oncall")
# What each scenario known when finding 5 was fixed lists, in order: no false positive (a
# crashing database pod is not the API's configuration, an exited container no port conflict,
# an image pull no resource constraint) and the balancer's 503 counted as failing health checks.
LISTED = {
    "database-down": ["database-connections", "network"],
    "oom-bad-deploy": ["resource-exhaustion", "network"],
    "pending-resources": ["resource-exhaustion", "network"],
    "gateway-crashloop": ["crashloopbackoff"],
    "gateway-image-pull": ["imagepullbackoff"],
    "container-crashed": ["container-crashed"],
    "container-db-down": ["database-connection"],
    "container-oom": ["out-of-memory", "container-crashed"],
}
_POD = re.compile(r"\bpod/([a-z0-9][a-z0-9.-]*)")
_ONE_SUBJECT = re.compile(r" on ([A-Za-z0-9_.-]+)$")


@dataclass
class StandIn:
    """A started stand-in as the matrix needs it."""

    service: str
    binding: dict[str, object]
    kubeconfig: str | None
    docker_host: str | None
    # The names that exist now: `pod/NAME` for every pod, or every container's name.
    existing: Callable[[], set[str]]
    # Replaces the service's pods and returns the old ones' `pod/NAME`; None on Docker.
    replace_pods: Callable[[], set[str]] | None


def _root_cause(drill: DrillScenario) -> str:
    load = load_kubernetes_scenario if drill.platform == "kubernetes" else load_docker_scenario
    return load(drill.name).root_cause


@contextmanager
def _kubernetes(name: str, tmp: Path) -> Iterator[StandIn]:
    with ExitStack() as stack:
        sandbox = Sandbox.start(name, ready_delay=0.0)
        stack.callback(sandbox.stop)
        kubeconfig = str(sandbox.write_kubeconfig(tmp / "kubeconfig"))
        client_config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=client_config
        )
        api = kubernetes.client.ApiClient(client_config)
        stack.callback(api.close)
        core = kubernetes.client.CoreV1Api(api)
        binding = sandbox.binding()
        namespace, selector = str(binding["namespace"]), f"app={sandbox.service_name}"

        def names(pods: list[kubernetes.client.V1Pod]) -> set[str]:
            return {str(p.metadata.name) for p in pods if p.metadata is not None}

        def existing() -> set[str]:
            return {f"pod/{name}" for name in names(core.list_pod_for_all_namespaces().items)}

        def service_pods() -> set[str]:
            return names(core.list_namespaced_pod(namespace, label_selector=selector).items)

        def replace_pods() -> set[str]:
            old = service_pods()
            for pod in old:
                core.delete_namespaced_pod(pod, namespace)
            deadline = time.monotonic() + 10
            while not (len(service_pods()) == len(old) and not service_pods() & old):
                assert time.monotonic() < deadline, f"{old} were not replaced"
                time.sleep(0.05)
            return {f"pod/{pod}" for pod in old}

        yield StandIn(
            service=sandbox.service_name,
            binding=binding,
            kubeconfig=kubeconfig,
            # No Docker engine: a stray Docker step fails instead of reaching one.
            docker_host=f"unix://{tmp / 'no-docker-engine.sock'}",
            existing=existing,
            replace_pods=replace_pods,
        )


@contextmanager
def _docker(name: str, tmp: Path) -> Iterator[StandIn]:
    with ExitStack() as stack:
        sandbox = DockerSandbox.start(name, ready_delay=0.0)
        stack.callback(sandbox.stop)
        client = docker.DockerClient(base_url=sandbox.docker_host)
        stack.callback(client.close)
        # No cluster: a stray Kubernetes step fails instead of reaching one.
        empty = {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "users": []}
        (tmp / "kubeconfig").write_text(yaml.safe_dump(empty), encoding="utf-8")

        def existing() -> set[str]:
            return {str(c.name) for c in client.containers.list(all=True)}

        yield StandIn(
            service=sandbox.service_name,
            binding=sandbox.binding(),
            kubeconfig=str(tmp / "kubeconfig"),
            docker_host=sandbox.docker_host,
            existing=existing,
            replace_pods=None,
        )


@asynccontextmanager
async def _engine(
    stand_in: StandIn, playbooks: dict[str, Playbook], templates: TemplateRenderer, tmp: Path
) -> AsyncIterator[Engine]:
    binding = ServiceBinding.model_validate(stand_in.binding)
    config = Config(services={stand_in.service: binding}, approvers=[ONCALL.id])
    executors = build_executors(stand_in.kubeconfig, stand_in.docker_host)
    store = SqliteStore(tmp / "incidents.db")
    try:
        yield Engine(playbooks, config, store, executors, templates)
    finally:
        await executors.close()
        await store.close()


async def _run_every_stage(engine: Engine, incident_id: str) -> Incident:
    """Each stage's diagnostics, in the playbook's order, as `run` in each stage does."""
    incident = await engine.get(incident_id)
    stages = engine.playbook_for(incident).stages
    for index, stage in enumerate(stages):
        if any(isinstance(step, DiagnosticStep) for step in stage.all_steps()):
            await engine.run_stage(incident_id, ONCALL)
        if index + 1 < len(stages):
            await engine.advance(incident_id, ONCALL)
    return await engine.get(incident_id)


def _listing(causes: list[CauseMatch]) -> str:
    return "\n".join(f"{m.cause.id}: {m.evidence}" for m in causes) or "nothing suggested"


def _contradictions(cause: RootCause, incident: Incident) -> list[str]:
    """Every `rules_out` symptom of the cause that any run's findings show, stale ones too."""
    found = []
    for symptom in (s for s in cause.symptoms if s.rules_out):
        runs = [
            run for step_id, run in incident.step_runs.items() if symptom.step in (None, step_id)
        ]
        for run in runs:
            showing = {
                f.subject for f in run.findings if f.name == symptom.finding and holds(symptom, f)
            }
            family = str(symptom.finding).split(".", 1)[0]
            everyone = {f.subject for f in run.findings if f.name.split(".", 1)[0] == family}
            if showing and (not symptom.all or everyone <= showing):
                found.append(f"{symptom.text} ({run.step_id}: {sorted(showing)})")
    return found


def _first_listing_stage(playbook: Playbook) -> str | None:
    """The first stage with a diagnostic listing the service's own pods, if any has one."""
    for stage in playbook.stages:
        for step in stage.all_steps():
            action = step.action if isinstance(step, DiagnosticStep) else None
            if isinstance(action, K8sPods) and not action.selector:
                return stage.id
    return None


def _named(causes: list[CauseMatch], stand_in: StandIn) -> set[str]:
    """The pods (or, on Docker, containers) the evidence names."""
    named: set[str] = set()
    for evidence in (e for m in causes for e in m.evidence):
        named |= {f"pod/{pod}" for pod in _POD.findall(evidence)}
        one = _ONE_SUBJECT.search(evidence)
        if stand_in.replace_pods is None and one is not None:
            named.add(one[1])
    return named


@pytest.mark.parametrize("drill", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_the_top_cause_is_the_scenarios_and_nothing_listed_is_ruled_out(
    drill: DrillScenario,
    playbooks: dict[str, Playbook],
    templates: TemplateRenderer,
    tmp_path: Path,
) -> None:
    expected = _root_cause(drill)
    start = _kubernetes if drill.platform == "kubernetes" else _docker
    with start(drill.name, tmp_path) as stand_in:
        async with _engine(stand_in, playbooks, templates, tmp_path) as engine:
            opened = await engine.open(drill.playbook, stand_in.service, ONCALL)
            incident = await _run_every_stage(engine, opened.id)
            causes = engine.causes(incident)

            assert causes, f"{drill.name}: no cause suggested"
            assert causes[0].cause.id == expected, f"{drill.name}:\n{_listing(causes)}"
            if drill.name in LISTED:
                assert [m.cause.id for m in causes] == LISTED[drill.name], _listing(causes)
            for match in causes:
                assert not _contradictions(match.cause, incident), (
                    f"{drill.name}: {match.cause.id} is listed but ruled out by "
                    f"{_contradictions(match.cause, incident)}"
                )
            # The pods or containers the top cause's evidence names exist now.
            assert _named(causes[:1], stand_in) <= stand_in.existing(), causes[0].evidence
            if stand_in.replace_pods is None:
                return

            # The first stage that lists the service's pods again, as a responder's `run` does.
            # (The gateway's auth, latency and rate-limit runbooks never list its pods.)
            listing = _first_listing_stage(engine.playbook_for(incident))
            if listing is None:
                return
            old = stand_in.replace_pods()
            await engine.advance(opened.id, ONCALL, listing)
            await engine.run_stage(opened.id, ONCALL)
            after = engine.causes(await engine.get(opened.id))
            named = _named(after, stand_in)
            assert not named & old, f"{drill.name}: evidence from replaced pods:\n{_listing(after)}"
            assert named <= stand_in.existing(), _listing(after)


def _last_terminations(core: kubernetes.client.CoreV1Api) -> set[str]:
    """Why each gateway container last stopped ('' for one that has not)."""
    # Unparsed (a urllib3 response), so the pods read as the API's JSON.
    found: Any = core.list_namespaced_pod(
        "default", label_selector="app=api-gateway", _preload_content=False
    )
    pods = json.loads(found.data)["items"]
    return {
        str(((status.get("lastState") or {}).get("terminated") or {}).get("reason") or "")
        for pod in pods
        for status in pod.get("status", {}).get("containerStatuses") or [{}]
    }


async def test_a_gateway_past_its_memory_limit_is_pointed_at_its_oom_branch(
    playbooks: dict[str, Playbook], templates: TemplateRenderer, tmp_path: Path
) -> None:
    """No gateway scenario runs out of memory, so one is made: the working image, 128Mi."""
    with _kubernetes("gateway-crashloop", tmp_path) as stand_in:
        client_config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=stand_in.kubeconfig, client_configuration=client_config
        )
        with kubernetes.client.ApiClient(client_config) as api:
            memory = {"memory": "128Mi"}
            gateway = {
                "name": "gateway",
                "image": "example/api-gateway:v0.1.0",
                "resources": {"requests": memory, "limits": memory},
            }
            body = {"spec": {"template": {"spec": {"containers": [gateway]}}}}
            kubernetes.client.AppsV1Api(api).patch_namespaced_deployment(
                stand_in.service, "default", body
            )
            core = kubernetes.client.CoreV1Api(api)
            deadline = time.monotonic() + 10
            while (reasons := _last_terminations(core)) != {"OOMKilled"}:
                assert time.monotonic() < deadline, reasons
                await asyncio.sleep(0.05)
        async with _engine(stand_in, playbooks, templates, tmp_path) as engine:
            opened = await engine.open("api-gateway-down", stand_in.service, ONCALL)
            causes = engine.causes(await _run_every_stage(engine, opened.id))

    assert [m.cause.id for m in causes] == ["out-of-memory", "crashloopbackoff"], _listing(causes)
    assert any("OOMKilled on all 3" in e for e in causes[0].evidence), causes[0].evidence
