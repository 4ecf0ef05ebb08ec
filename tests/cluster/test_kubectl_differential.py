"""Each Kubernetes fix against the real API server, compared with what the real kubectl does.

Two identical deployments in two namespaces: kubectl changes one, the bot's fix (previewed with a
server-side dry run first, then applied) the other. The objects that result must be the same:
spec, template, replicas, annotations and the ReplicaSets' revisions; timestamps, generated names
and the value of a restart stamp excluded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.config import ServiceBinding
from bot.executors.base import WriteAction
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.kubernetes.params import WRITES
from tests.support.real_cluster import (
    Cluster,
    Obj,
    container,
    differences,
    revision,
    template,
)

APP = "api"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESOURCES = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}
BIG = {"requests": {"cpu": "250m", "memory": "16Gi"}, "limits": {"cpu": "500m", "memory": "16Gi"}}
ENV = [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-west-1"}]

# Three releases: 2.3.9, then 2.4.0, then the same 2.4.0 with a memory request no node fits
# (a config-only release, the `pending-resources` drill).
RELEASES = [
    template(APP, container(APP, "ecap/api:2.3.9", env=ENV, resources=RESOURCES)),
    template(
        APP,
        container(APP, "ecap/api:2.4.0", env=ENV, resources=RESOURCES),
        annotations={"kubernetes.io/change-cause": "release 2.4.0"},
    ),
    template(APP, container(APP, "ecap/api:2.4.0", env=ENV, resources=BIG)),
]


def action(kind: str, **params: Any) -> WriteAction:
    by_type = {cls.model_fields["type"].annotation.__args__[0]: cls for cls in WRITES}  # type: ignore[union-attr]
    params_class = by_type[kind]
    result: WriteAction = params_class.model_validate({"type": kind, **params})
    return result


@dataclass(frozen=True)
class Case:
    """A kubectl command and the bot's fix that stands for it."""

    id: str
    kubectl: list[str]
    fix: WriteAction
    releases: list[Obj] = field(default_factory=lambda: RELEASES)
    # What the preview must name (the target revision of a rollback, the new value).
    preview_says: str = ""


CASES = [
    Case(
        "rollout-restart", ["rollout", "restart", "deployment/api"], action("k8s.rollout_restart")
    ),
    Case(
        "scale",
        ["scale", "deployment/api", "--replicas=5"],
        action("k8s.scale", replicas=5),
        preview_says="5",
    ),
    Case(
        "set-image",
        ["set", "image", "deployment/api", "api=ecap/api:2.4.1"],
        action("k8s.set_image", image="ecap/api:2.4.1"),
        preview_says="ecap/api:2.4.1",
    ),
    Case(
        "set-env-update",
        ["set", "env", "deployment/api", "LOG_LEVEL=debug"],
        action("k8s.set_env", env={"LOG_LEVEL": "debug"}),
        preview_says="debug",
    ),
    Case(
        "set-env-add",
        ["set", "env", "deployment/api", "FEATURE_X=off"],
        action("k8s.set_env", env={"FEATURE_X": "off"}),
    ),
    Case(
        "set-resources",
        [
            "set",
            "resources",
            "deployment/api",
            "-c",
            "api",
            "--limits=cpu=1,memory=1Gi",
            "--requests=memory=768Mi",
        ],
        action(
            "k8s.patch_resources",
            limits={"cpu": "1", "memory": "1Gi"},
            requests={"memory": "768Mi"},
        ),
        preview_says="1Gi",
    ),
    # The config-only release is undone to revision 2 (same image), as kubectl does.
    Case(
        "undo-previous",
        ["rollout", "undo", "deployment/api"],
        action("k8s.rollout_undo"),
        preview_says="revision 2",
    ),
    Case(
        "undo-to-revision",
        ["rollout", "undo", "deployment/api", "--to-revision=1"],
        action("k8s.rollout_undo", to_revision=1),
        preview_says="revision 1",
    ),
    # After a bare restart, the previous revision is the template before the restart stamp.
    Case(
        "undo-after-restart",
        ["rollout", "undo", "deployment/api"],
        action("k8s.rollout_undo"),
        releases=[
            RELEASES[0],
            RELEASES[1],
            template(
                APP,
                container(APP, "ecap/api:2.4.0", env=ENV, resources=RESOURCES),
                annotations={RESTARTED_AT: "2026-12-06T03:00:00Z"},
            ),
        ],
        preview_says="revision 2",
    ),
]


def comparable(obj: Obj) -> Obj:
    """The object without what differs between any two objects made the same way."""
    meta = obj.get("metadata", {})
    spec = copy.deepcopy(obj.get("spec", {}))
    template_meta = spec.get("template", {}).get("metadata", {})
    labels = {
        k: v for k, v in (template_meta.get("labels") or {}).items() if k != "pod-template-hash"
    }
    if labels:
        template_meta["labels"] = labels
    stamped = template_meta.get("annotations") or {}
    if RESTARTED_AT in stamped:
        stamped[RESTARTED_AT] = "<restart stamp>"
    if isinstance(spec.get("selector"), dict):
        match = spec["selector"].get("matchLabels") or {}
        match.pop("pod-template-hash", None)
    return {
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
        "generation": meta.get("generation"),
        "spec": spec,
    }


def history(cluster: Cluster, namespace: str) -> list[tuple[int, Obj, int]]:
    """(revision, template, replicas) of each ReplicaSet, oldest first."""
    return [
        (revision(rs), comparable({"spec": rs["spec"]})["spec"]["template"], rs["spec"]["replicas"])
        for rs in cluster.replica_sets(namespace, APP)
    ]


@pytest.fixture
def twins(cluster: Cluster) -> Iterator[Callable[[list[Obj]], tuple[str, str]]]:
    made: list[str] = []

    def make(releases: list[Obj]) -> tuple[str, str]:
        pair = (cluster.new_namespace("kubectl"), cluster.new_namespace("bot"))
        for namespace in pair:
            made.append(namespace)
            cluster.deploy(namespace, APP, releases)
            cluster.roll_out(namespace, APP)
        return pair

    yield make
    for namespace in made:
        cluster.delete_namespace(namespace)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_the_fix_does_what_kubectl_does(
    case: Case,
    cluster: Cluster,
    executor: KubernetesExecutor,
    twins: Callable[[list[Obj]], tuple[str, str]],
) -> None:
    by_kubectl, by_bot = twins(case.releases)
    binding = ServiceBinding(namespace=by_bot, deployment=APP, container=APP, service=APP)
    before = cluster.deployment(by_bot, APP)

    preview = await executor.preview(case.fix, binding)
    assert preview.error is None, preview.error
    assert case.preview_says in preview.summary + preview.diff
    # A server-side dry run: nothing was written.
    assert (
        cluster.deployment(by_bot, APP)["metadata"]["resourceVersion"]
        == (before["metadata"]["resourceVersion"])
    )

    cluster.kubectl(*case.kubectl, namespace=by_kubectl)
    result = await executor.apply(case.fix, binding)
    assert result.status == "ok", result.summary

    expected = comparable(cluster.settle(by_kubectl, APP))
    got = comparable(cluster.settle(by_bot, APP))
    assert got == expected, differences(got, expected, ("kubectl", "bot"))
    assert history(cluster, by_bot) == history(cluster, by_kubectl)


async def test_an_undo_to_the_current_template_is_refused_like_kubectl_skips_it(
    cluster: Cluster, executor: KubernetesExecutor, namespace: str
) -> None:
    """kubectl prints "skipped rollback"; the bot refuses to offer a fix that changes nothing."""
    same = RELEASES[1]
    cluster.deploy(namespace, APP, [RELEASES[0], same])
    # Revision 3 goes back to 2.3.9; undoing to revision 3's own template changes nothing.
    cluster.kubectl("rollout", "undo", "deployment/api", namespace=namespace)
    cluster.settle(namespace, APP, revision=3)
    out = cluster.kubectl(
        "rollout", "undo", "deployment/api", "--to-revision=3", namespace=namespace
    )
    assert "skipped rollback" in out
    binding = ServiceBinding(namespace=namespace, deployment=APP, container=APP)
    preview = await executor.preview(action("k8s.rollout_undo", to_revision=3), binding)
    assert preview.error is not None
    assert "already runs the template of revision 3" in preview.error
    assert "\n" not in preview.error


async def test_a_missing_revision_is_one_line_and_changes_nothing(
    cluster: Cluster, executor: KubernetesExecutor, namespace: str
) -> None:
    cluster.deploy(namespace, APP, RELEASES[:2])
    before = cluster.deployment(namespace, APP)["metadata"]["resourceVersion"]
    binding = ServiceBinding(namespace=namespace, deployment=APP, container=APP)
    result = await executor.apply(action("k8s.rollout_undo", to_revision=7), binding)
    assert result.status == "error"
    assert result.summary == f"deployment/{APP} has no revision 7 (available: 1, 2)"
    assert cluster.deployment(namespace, APP)["metadata"]["resourceVersion"] == before


def _settled_pod(cluster: Cluster, namespace: str) -> str:
    """A pod of the current ReplicaSet: older ones may still be going away after the rollout."""
    current = cluster.replica_sets(namespace, APP)[-1]["metadata"]["name"]
    pods = [
        p
        for p in cluster.pods(namespace, f"app={APP}")
        if not p["metadata"].get("deletionTimestamp")
        and any(o.get("name") == current for o in p["metadata"].get("ownerReferences") or [])
    ]
    return str(sorted(p["metadata"]["name"] for p in pods)[0])


async def test_delete_pod_matches_kubectl_delete(
    cluster: Cluster, executor: KubernetesExecutor, twins: Callable[[list[Obj]], tuple[str, str]]
) -> None:
    by_kubectl, by_bot = twins(RELEASES[:2])
    victims = {ns: _settled_pod(cluster, ns) for ns in (by_kubectl, by_bot)}
    binding = ServiceBinding(namespace=by_bot, deployment=APP)
    fix = action("k8s.delete_pod", pod=victims[by_bot])
    preview = await executor.preview(fix, binding)
    assert preview.error is None and "its controller recreates it" in preview.summary
    assert victims[by_bot] in {p["metadata"]["name"] for p in cluster.pods(by_bot, f"app={APP}")}

    cluster.kubectl("delete", "pod", victims[by_kubectl], "--wait=false", namespace=by_kubectl)
    assert (await executor.apply(fix, binding)).status == "ok"
    for ns in (by_kubectl, by_bot):
        pods = cluster.pods(ns, f"app={APP}")
        # Without a kubelet the pod keeps its deletion stamp; the ReplicaSet makes a new one.
        remaining = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert victims[ns] not in {p["metadata"]["name"] for p in remaining}
        assert history(cluster, ns) == history(cluster, by_kubectl)


async def test_service_selector_matches_kubectl_set_selector(
    cluster: Cluster, executor: KubernetesExecutor, twins: Callable[[list[Obj]], tuple[str, str]]
) -> None:
    pair = twins(RELEASES[:1])
    for ns in pair:
        cluster.create(
            cluster.core.create_namespaced_service,
            ns,
            {
                "metadata": {"name": APP},
                "spec": {"selector": {"app": APP, "tier": "web"}, "ports": [{"port": 80}]},
            },
        )
    by_kubectl, by_bot = pair
    cluster.kubectl("set", "selector", "service/api", "app=api-v2", namespace=by_kubectl)
    binding = ServiceBinding(namespace=by_bot, service=APP)
    fix = action("k8s.patch_service_selector", selector="app=api-v2")
    assert (await executor.preview(fix, binding)).error is None
    assert (await executor.apply(fix, binding)).status == "ok"
    selectors = [
        cluster.read(cluster.core.read_namespaced_service, APP, ns)["spec"]["selector"]
        for ns in pair
    ]
    assert selectors[0] == selectors[1] == {"app": "api-v2"}


@pytest.mark.parametrize(
    ("patch", "params"),
    [
        ('{"spec":{"minReplicas":2,"maxReplicas":8}}', {"min_replicas": 2, "max_replicas": 8}),
        (
            '{"spec":{"metrics":[{"type":"Resource","resource":{"name":"cpu",'
            '"target":{"type":"Utilization","averageUtilization":60}}}]}}',
            {"cpu_target_percent": 60},
        ),
    ],
    ids=["bounds", "cpu-target"],
)
async def test_hpa_patch_matches_kubectl_patch(
    patch: str,
    params: dict[str, int],
    cluster: Cluster,
    executor: KubernetesExecutor,
    twins: Callable[[list[Obj]], tuple[str, str]],
) -> None:
    pair = twins(RELEASES[:1])
    for ns in pair:
        cluster.create(
            cluster.autoscaling.create_namespaced_horizontal_pod_autoscaler,
            ns,
            {
                "metadata": {"name": APP},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": APP},
                    "minReplicas": 3,
                    "maxReplicas": 6,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 80},
                            },
                        }
                    ],
                },
            },
        )
    by_kubectl, by_bot = pair
    cluster.kubectl("patch", "hpa", APP, "--type=merge", "-p", patch, namespace=by_kubectl)
    binding = ServiceBinding(namespace=by_bot, deployment=APP)
    fix = action("k8s.patch_hpa", **params)
    assert (await executor.preview(fix, binding)).error is None
    assert (await executor.apply(fix, binding)).status == "ok"
    specs = [
        cluster.read(cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler, APP, ns)["spec"]
        for ns in pair
    ]
    assert specs[0] == specs[1]


def test_every_fix_type_has_a_differential_case() -> None:
    covered = {case.fix.type for case in CASES} | {
        "k8s.delete_pod",
        "k8s.patch_service_selector",
        "k8s.patch_hpa",
    }
    assert covered == {cls.model_fields["type"].annotation.__args__[0] for cls in WRITES}  # type: ignore[union-attr]
