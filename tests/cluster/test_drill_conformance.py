"""The drill's stand-in API server answers as the real one: the same reads and fixes, compared.

A drill scenario is copied onto the real control plane (tests/support/mirror.py); every read the
bot makes and every fix it previews and applies then runs against both, and the results must be
equal once generated names are masked. Where the real cluster cannot answer by design (no kubelet:
logs and exec; no metrics-server: top), the test says so and checks the real one-line reason.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.executors.base import CheckResult, ReadAction, WriteAction
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.kubernetes.params import READS, WRITES
from cluster.control_plane import ControlPlane
from tests.support.mirror import cleanup, masked, mirror
from tests.support.real_cluster import Cluster, differences, wait_for

SCENARIO = "oom-bad-deploy"
# The real control plane has no kubelet and no metrics-server: these reads answer with one line
# there, while the drill imitates both. Not a disagreement of the drill server.
NEEDS_A_NODE = {"k8s.logs", "k8s.exec", "k8s.top_nodes", "k8s.top_pods"}


def _type(cls: type[Any]) -> str:
    return str(cls.model_fields["type"].annotation.__args__[0])


READ_TYPES = {_type(cls): cls for cls in READS}
WRITE_TYPES = {_type(cls): cls for cls in WRITES}


@dataclass
class Twin:
    """The same scenario on the drill server and on the real API server."""

    drill: KubernetesExecutor
    real: KubernetesExecutor
    drill_binding: ServiceBinding
    real_binding: ServiceBinding
    namespace: str
    pods: dict[str, str]


def _binding(sandbox: Sandbox, namespace: str) -> ServiceBinding:
    raw = sandbox.binding()
    raw["namespace"] = namespace
    return ServiceBinding.model_validate(raw).with_defaults(sandbox.service_name)


@dataclass
class Mirrored:
    sandbox: Sandbox
    kubeconfig: Path
    namespace: str
    pods: dict[str, str]


@pytest.fixture(scope="module")
def mirrored(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirrored]:
    """The scenario on both servers, once for the module: reads change nothing."""
    sandbox = Sandbox.start(SCENARIO, ready_delay=0.0)
    kubeconfig = sandbox.write_kubeconfig(tmp_path_factory.mktemp("drill") / "kubeconfig")
    namespace = cluster.new_namespace("mirror")
    drill = Cluster(kubeconfig)
    try:
        yield Mirrored(sandbox, kubeconfig, namespace, mirror(drill, cluster, namespace))
    finally:
        cleanup(drill, cluster)
        cluster.delete_namespace(namespace)
        sandbox.stop()


@pytest.fixture
async def twin(mirrored: Mirrored, control_plane: ControlPlane) -> AsyncIterator[Twin]:
    pair = Twin(
        KubernetesExecutor(str(mirrored.kubeconfig)),
        KubernetesExecutor(str(control_plane.kubeconfig)),
        _binding(mirrored.sandbox, "default"),
        _binding(mirrored.sandbox, mirrored.namespace),
        mirrored.namespace,
        mirrored.pods,
    )
    yield pair
    await pair.drill.close()
    await pair.real.close()


# One read of each type, with the parameters the playbooks give it.
READ_CASES: dict[str, dict[str, Any]] = {
    "k8s.pods": {},
    "k8s.describe_pods": {},
    # Enough to hold the controllers' own events on the real cluster besides the drill's.
    "k8s.events": {"limit": 200},
    "k8s.logs": {"previous": True},
    "k8s.rollout_history": {},
    "k8s.rollout_status": {},
    "k8s.nodes": {},
    "k8s.describe_node": {},
    "k8s.top_nodes": {},
    "k8s.top_pods": {},
    "k8s.endpoints": {},
    "k8s.ingresses": {},
    "k8s.configmap": {},
    "k8s.secret_keys": {},
    "k8s.env": {},
    "k8s.network_policies": {},
    "k8s.volumes": {},
    "k8s.hpa": {},
    "k8s.cluster_info": {},
    "k8s.exec": {"pod": "postgres-0", "command": ["pg_isready"]},
}


def _read(kind: str) -> ReadAction:
    action: ReadAction = READ_TYPES[kind].model_validate({"type": kind, **READ_CASES[kind]})
    return action


def test_every_read_type_has_a_conformance_case() -> None:
    assert set(READ_CASES) == set(READ_TYPES)


# Ages: the drill backdates its objects (a release 12 minutes ago); a real server stamps the time
# an object is made, so only the age differs.
_SERVER = re.compile(r"https?://127\.0\.0\.1:\d+")
_AGE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|m|h|d|min|mins|minutes?|seconds?|hours?|days?)\b")


def comparable(result: CheckResult, namespace: str) -> tuple[str, str, list[tuple[str, str, str]]]:
    """Status, summary and findings, with generated names and ages masked."""

    def neutral(text: str) -> str:
        return _AGE.sub("<age>", _SERVER.sub("<server>", str(masked(text, namespace))))

    findings = sorted(
        (f.name, "<age>" if "minutes" in f.name else neutral(str(f.value)), neutral(f.subject))
        for f in result.findings
    )
    return result.status, neutral(result.summary), findings


@pytest.mark.parametrize("kind", sorted(set(READ_CASES) - NEEDS_A_NODE - {"k8s.events"}))
async def test_the_drill_reads_as_the_real_server(kind: str, twin: Twin) -> None:
    drill = await twin.drill.check(_read(kind), twin.drill_binding)
    real = await twin.real.check(_read(kind), twin.real_binding)
    assert comparable(real, twin.namespace) == comparable(drill, twin.namespace)


async def test_the_real_events_include_every_drill_event(twin: Twin) -> None:
    """A real cluster's controllers add events of their own; the drill's must all be there."""
    drill = await twin.drill.check(_read("k8s.events"), twin.drill_binding)
    real = await twin.real.check(_read("k8s.events"), twin.real_binding)
    assert real.status == drill.status == "problem"
    drill_findings = set(comparable(drill, twin.namespace)[2])
    real_findings = set(comparable(real, twin.namespace)[2])
    assert drill_findings
    # Named difference: the drill swaps ReplicaSets in one step ("from 3 to 0") where the real
    # controller steps a rolling update by maxSurge and maxUnavailable; the reason is the same.
    stepped = {f for f in drill_findings if f[1].startswith("Scaled down replica set")}
    assert drill_findings - stepped <= real_findings
    assert all(
        any(r[1].startswith(f[1].rsplit(" from ", 1)[0] + " from ") for r in real_findings)
        for f in stepped
    )


@pytest.mark.parametrize("kind", sorted(NEEDS_A_NODE))
async def test_what_needs_a_kubelet_is_one_line_on_the_real_server(kind: str, twin: Twin) -> None:
    drill = await twin.drill.check(_read(kind), twin.drill_binding)
    real = await twin.real.check(_read(kind), twin.real_binding)
    assert drill.status in ("ok", "problem"), drill.summary
    assert real.status == "error"
    assert real.summary and "\n" not in real.summary
    assert "Traceback" not in real.summary + real.output


# One fix of each type, as the playbooks write them; `{pod}` is the first pod of the deployment.
FIX_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "k8s.rollout_restart": (SCENARIO, {}),
    "k8s.scale": (SCENARIO, {"replicas": 5}),
    "k8s.set_image": (SCENARIO, {"image": "ecap/api:2.4.0"}),
    "k8s.rollout_undo": ("pending-resources", {}),
    "k8s.patch_resources": (
        SCENARIO,
        {"limits": {"memory": "1Gi"}, "requests": {"memory": "768Mi"}},
    ),
    "k8s.delete_pod": (SCENARIO, {"pod": "{pod}"}),
    "k8s.patch_service_selector": (SCENARIO, {"selector": "app=ecap-api,track=stable"}),
    "k8s.set_env": (SCENARIO, {"env": {"LOG_LEVEL": "debug", "FEATURE_X": "off"}}),
    "k8s.patch_hpa": ("gateway-crashloop", {"min_replicas": 4, "cpu_target_percent": 60}),
}


def test_every_fix_type_has_a_conformance_case() -> None:
    assert set(FIX_CASES) == set(WRITE_TYPES)


def _fields(cluster: Cluster, namespace: str, binding: ServiceBinding) -> dict[str, Any]:
    """What the fixes change: replicas, containers, template stamps, revisions, selector, HPA."""
    dep = cluster.deployment(namespace, binding.deployment)
    template = dep["spec"]["template"]
    stamps = dict(template["metadata"].get("annotations") or {})
    if "kubectl.kubernetes.io/restartedAt" in stamps:
        stamps["kubectl.kubernetes.io/restartedAt"] = "<stamp>"
    service = cluster.read(cluster.core.read_namespaced_service, binding.service, namespace)
    hpas = cluster.read(cluster.autoscaling.list_namespaced_horizontal_pod_autoscaler, namespace)
    return {
        "replicas": dep["spec"]["replicas"],
        "revision": dep["metadata"]["annotations"].get("deployment.kubernetes.io/revision"),
        "containers": [
            {k: c.get(k) for k in ("name", "image", "env", "resources")}
            for c in template["spec"]["containers"]
        ],
        "stamps": stamps,
        "selector": service["spec"].get("selector"),
        "hpa": [
            {k: h["spec"].get(k) for k in ("minReplicas", "maxReplicas", "metrics")}
            for h in hpas["items"]
        ],
    }


@pytest.mark.parametrize("kind", sorted(FIX_CASES))
async def test_the_drill_changes_as_the_real_server(
    kind: str, cluster: Cluster, control_plane: ControlPlane, tmp_path: Path
) -> None:
    scenario, params = FIX_CASES[kind]
    sandbox = Sandbox.start(scenario, ready_delay=0.0)
    drill_cluster = Cluster(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
    namespace = cluster.new_namespace("fix")
    drill = KubernetesExecutor(str(drill_cluster.kubeconfig))
    real = KubernetesExecutor(str(control_plane.kubeconfig))
    try:
        pods = mirror(drill_cluster, cluster, namespace)
        sides = ((drill, drill_cluster, "default"), (real, cluster, namespace))
        outcomes = []
        for executor, where, ns in sides:
            binding = _binding(sandbox, ns)
            pod = sorted(p for p in pods if p.startswith(binding.deployment))[0]
            values = {
                k: (v if v != "{pod}" else (pod if where is drill_cluster else pods[pod]))
                for k, v in params.items()
            }
            fix: WriteAction = WRITE_TYPES[kind].model_validate({"type": kind, **values})
            preview = await executor.preview(fix, binding)
            assert preview.error is None, preview.error
            result = await executor.apply(fix, binding)
            assert result.status == "ok", result.summary
            outcomes.append((masked(preview.summary, namespace), masked(result.summary, namespace)))
        drill_binding, real_binding = _binding(sandbox, "default"), _binding(sandbox, namespace)
        drill_state = masked(_fields(drill_cluster, "default", drill_binding), namespace)
        assert outcomes[1] == outcomes[0]

        # The real controllers act when they next sync (the HPA raises replicas to its new
        # minimum), so the real side is compared until it settles.
        def real_state() -> Any:
            cluster.settle(namespace, real_binding.deployment)
            return masked(_fields(cluster, namespace, real_binding), namespace)

        try:
            wait_for(lambda: real_state() == drill_state, timeout=30.0)
        except AssertionError:
            raise AssertionError(
                differences(real_state(), drill_state, ("drill", "real"))
            ) from None
    finally:
        await drill.close()
        await real.close()
        cleanup(drill_cluster, cluster)
        cluster.delete_namespace(namespace)
        sandbox.stop()
