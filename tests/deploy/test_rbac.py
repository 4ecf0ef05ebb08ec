"""The shipped RBAC grants exactly what the Kubernetes executor's requests need, nothing beyond.

Every read is checked and every fix previewed and applied through the real kubernetes client
against the sandbox API server, which records each request; each request is mapped to the RBAC
permission the API server would check, and compared with deploy/kubernetes/rbac.yaml.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from bot.config import ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.executors.base import ReadAction, WriteAction
from bot.executors.kubernetes import READS, WRITES, KubernetesExecutor
from bot.executors.kubernetes import params as p

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "rbac.yaml"
# (verb, api group, resource[/subresource], namespaced)
Grant = tuple[str, str, str, bool]
# Not granted on purpose (see permissions.NOT_GRANTED and the note in rbac.yaml).
EXCLUDED: set[Grant] = {("get", "", "secrets", True)}


def needed(method: str, raw: str) -> set[Grant]:
    """The permissions the API server checks for one request; none for a non-resource URL."""
    url = urlsplit(raw)
    parts = [part for part in url.path.split("/") if part]
    query = parse_qs(url.query)
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return set()  # /version, /healthz, /openapi: nonResourceURLs every user may GET
    namespaced = len(rest) >= 3 and rest[0] == "namespaces"
    if namespaced:
        rest = rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    if resource == "pods/exec":
        # A websocket GET; from 1.30 it must also be allowed to `create`, as the POST form is.
        return {("create", group, resource, namespaced), ("get", group, resource, namespaced)}
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") == ["true"] else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, "")
        if method == "DELETE":
            verb = "delete" if name else "deletecollection"
    assert verb, f"unexpected method {method} {raw}"
    # A dry run is authorized as the write it simulates.
    return {(verb, group, resource, namespaced)}


def granted(path: Path = RBAC) -> set[Grant]:
    """What the manifest's ClusterRole (cluster-scoped) and Roles (namespaced) allow."""
    grants: set[Grant] = set()
    roles = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "Role"]
    assert roles, "rbac.yaml has no Role"
    assert all(r["rules"] == roles[0]["rules"] for r in roles), "Roles differ between namespaces"
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in doc["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        grants.add((verb, group, resource, doc["kind"] == "Role"))
    return grants


class Recorder:
    """The sandbox's request log, split per action."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.log: list[tuple[str, str]] = []
        # The server's recorder hook: every authenticated API request, in order.
        sandbox._server.requests = self.log
        self.by_action: dict[str, set[Grant]] = {}

    def mark(self, label: str, start: int) -> None:
        found = self.by_action.setdefault(label, set())
        for method, raw in self.log[start:]:
            found |= needed(method, raw)

    def all(self) -> set[Grant]:
        return set().union(*self.by_action.values())


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    # The gateway scenario has every kind of object: an HPA, claims, config, secrets, logs.
    sb = Sandbox.start("gateway-crashloop", ready_delay=0.0)
    yield sb
    sb.stop()


@pytest.fixture
def binding(sandbox: Sandbox) -> ServiceBinding:
    return ServiceBinding.model_validate(sandbox.binding()).with_defaults(sandbox.service_name)


@pytest.fixture
async def executor(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[KubernetesExecutor]:
    ex = KubernetesExecutor(str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
    yield ex
    await ex.close()


def _reads(pod: str, node: str) -> list[ReadAction]:
    """Every read, in each form that reaches the API differently."""
    return [
        p.K8sPods(type="k8s.pods"),
        p.K8sDescribePods(type="k8s.describe_pods"),
        p.K8sDescribePods(type="k8s.describe_pods", pod=pod),
        p.K8sEvents(type="k8s.events"),
        p.K8sEvents(type="k8s.events", involving=pod),
        p.K8sLogs(type="k8s.logs"),
        p.K8sLogs(type="k8s.logs", deployment="api-gateway", previous=True),
        p.K8sLogs(type="k8s.logs", pod=pod, since_minutes=60),
        p.K8sRolloutHistory(type="k8s.rollout_history"),
        p.K8sRolloutStatus(type="k8s.rollout_status"),
        p.K8sNodes(type="k8s.nodes"),
        p.K8sDescribeNode(type="k8s.describe_node"),
        p.K8sDescribeNode(type="k8s.describe_node", node=node),
        p.K8sTopNodes(type="k8s.top_nodes"),
        p.K8sTopPods(type="k8s.top_pods"),
        p.K8sEndpoints(type="k8s.endpoints"),
        p.K8sIngresses(type="k8s.ingresses"),
        p.K8sConfigMap(type="k8s.configmap"),
        p.K8sSecretKeys(type="k8s.secret_keys"),
        p.K8sEnv(type="k8s.env"),
        p.K8sNetworkPolicies(type="k8s.network_policies"),
        p.K8sVolumes(type="k8s.volumes"),
        p.K8sHpa(type="k8s.hpa"),
        p.K8sClusterInfo(type="k8s.cluster_info"),
        p.K8sExec(type="k8s.exec", selector="app=redis", command=["redis-cli", "ping"]),
        p.K8sExec(type="k8s.exec", pod="redis-0", command=["redis-cli", "ping"]),
    ]


def _writes(pod: str) -> list[WriteAction]:
    return [
        p.K8sRolloutRestart(type="k8s.rollout_restart"),
        p.K8sScale(type="k8s.scale", replicas=4),
        p.K8sSetImage(type="k8s.set_image", image="example/api-gateway:v0.1.0"),
        p.K8sRolloutUndo(type="k8s.rollout_undo"),
        p.K8sPatchResources(type="k8s.patch_resources", limits={"memory": "512Mi"}),
        p.K8sSetEnv(type="k8s.set_env", env={"SESSION_TTL": "1800"}),
        p.K8sPatchHpa(type="k8s.patch_hpa", max_replicas=12, cpu_target_percent=60),
        p.K8sPatchServiceSelector(type="k8s.patch_service_selector", selector="app=maintenance"),
        p.K8sDeletePod(type="k8s.delete_pod", pod=pod),
    ]


async def _a_pod(executor: KubernetesExecutor, binding: ServiceBinding) -> str:
    pods = await executor.check(p.K8sPods(type="k8s.pods"), binding)
    return next(f.subject for f in pods.findings if f.name == "pod.phase").removeprefix("pod/")


async def _drive(
    sandbox: Sandbox, executor: KubernetesExecutor, binding: ServiceBinding
) -> Recorder:
    recorder = Recorder(sandbox)
    pod = await _a_pod(executor, binding)
    nodes = await executor.check(p.K8sNodes(type="k8s.nodes"), binding)
    node = nodes.findings[0].subject.removeprefix("node/")
    reads = _reads(pod, node)
    assert {type(a) for a in reads} == set(READS), "a read is not driven"
    for read in reads:
        start = len(recorder.log)
        result = await executor.check(read, binding)
        assert result.status != "error", f"{read.type}: {result.summary}"
        recorder.mark(read.type, start)
    # With no deployment to name it, k8s.hpa lists the namespace's HPAs instead.
    start = len(recorder.log)
    unnamed = binding.model_copy(update={"deployment": ""})
    assert (await executor.check(p.K8sHpa(type="k8s.hpa"), unnamed)).status != "error"
    recorder.mark("k8s.hpa", start)
    writes = _writes(pod)
    assert {type(a) for a in writes} == set(WRITES), "a fix is not driven"
    for write in writes:
        if isinstance(write, p.K8sDeletePod):
            # The fixes before it replaced the pods it first saw.
            write = write.model_copy(update={"pod": await _a_pod(executor, binding)})
        start = len(recorder.log)
        preview = await executor.preview(write, binding)
        assert preview.error is None, f"{write.type} preview: {preview.error}"
        applied = await executor.apply(write, binding)
        assert applied.status == "ok", f"{write.type}: {applied.summary}"
        recorder.mark(write.type, start)
    return recorder


def _who(recorder: Recorder, grants: set[Grant]) -> list[str]:
    return sorted(
        f"{action}: {verb} {group or 'core'}/{resource}{'' if ns else ' (cluster)'}"
        for action, used in recorder.by_action.items()
        for verb, group, resource, ns in used & grants
    )


async def test_rbac_grants_exactly_what_the_executor_uses(
    sandbox: Sandbox, executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    recorder = await _drive(sandbox, executor, binding)
    used, grants = recorder.all(), granted()
    missing = used - grants - EXCLUDED
    assert not missing, f"used but not granted: {_who(recorder, missing)}"
    assert grants <= used, f"granted but never used: {sorted(grants - used)}"
    # The exclusion is real: the secrets read does ask for it, and nothing grants it.
    assert used >= EXCLUDED and not EXCLUDED & grants
    # Writes reach the API only as namespaced Role grants; the ClusterRole only reads.
    assert {verb for verb, *_, ns in used if not ns} <= {"get", "list"}


async def test_secret_keys_without_the_grant_is_one_forbidden_line(
    sandbox: Sandbox, executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    sandbox.forbid("secrets")
    result = await executor.check(p.K8sSecretKeys(type="k8s.secret_keys"), binding)
    assert result.status == "error"
    assert result.summary == "forbidden: cannot get secrets in namespace default (403)"
    # The environment shows secret refs as refs, so it needs no secret and keeps working.
    env = await executor.check(p.K8sEnv(type="k8s.env"), binding)
    assert env.status != "error", env.summary
    assert "secretKeyRef" in env.output or "api-gateway-secrets" in env.output


def test_request_mapping_follows_the_api_server() -> None:
    ns = "/api/v1/namespaces/default"
    cases: dict[tuple[str, str], set[Grant]] = {
        ("GET", "/version"): set(),
        ("GET", f"{ns}/pods/web-1"): {("get", "", "pods", True)},
        ("GET", f"{ns}/pods?labelSelector=app%3Dweb"): {("list", "", "pods", True)},
        ("GET", f"{ns}/pods/web-1/log?tailLines=5"): {("get", "", "pods/log", True)},
        ("DELETE", f"{ns}/pods/web-1?dryRun=All"): {("delete", "", "pods", True)},
        ("GET", f"{ns}/pods/web-1/exec?command=ls"): {
            ("create", "", "pods/exec", True),
            ("get", "", "pods/exec", True),
        },
        ("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale?dryRun=All"): {
            ("patch", "apps", "deployments/scale", True)
        },
        ("GET", "/api/v1/nodes"): {("list", "", "nodes", False)},
        ("GET", "/apis/metrics.k8s.io/v1beta1/nodes"): {("list", "metrics.k8s.io", "nodes", False)},
        ("GET", "/api/v1/namespaces/default"): {("get", "", "namespaces", False)},
    }
    assert {key: needed(*key) for key in cases} == cases


def test_a_grant_too_many_or_too_few_is_seen(tmp_path: Path) -> None:
    """The comparison reads the file it is given, so an edited manifest changes its answer."""
    docs: list[Any] = list(yaml.safe_load_all(RBAC.read_text()))
    for doc in docs:
        if doc and doc["kind"] == "Role":
            doc["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})
            doc["rules"] = [r for r in doc["rules"] if r["resources"] != ["pods/log"]]
    edited = tmp_path / "rbac.yaml"
    edited.write_text(yaml.safe_dump_all(docs))
    changed = granted(edited)
    assert ("list", "", "secrets", True) in changed - granted()
    assert ("get", "", "pods/log", True) in granted() - changed
