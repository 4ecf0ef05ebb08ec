"""A fix's preview is a server-side dry run: admission runs, nothing is written.

The admission control is a real ValidatingAdmissionPolicy (CEL, evaluated inside kube-apiserver):
at most a few replicas and no `:latest` image in the test's namespace. A refused dry run is one
line saying why, and the engine will not ask anyone to approve a fix it could not preview.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from bot.app import build_executors
from bot.config import Config, ServiceBinding
from bot.engine.engine import Engine
from bot.engine.incident import Actor
from bot.errors import InvalidRequest
from bot.executors.base import WriteAction
from bot.executors.kubernetes import KubernetesExecutor
from bot.playbooks.loader import load_playbooks
from bot.store import SqliteStore
from bot.templates import TemplateRenderer
from cluster.control_plane import ControlPlane
from tests.cluster.test_kubectl_differential import RELEASES, action
from tests.support.real_cluster import Cluster, container, template, wait_for

REPO = Path(__file__).resolve().parents[2]
APP = "api"


def admission_policy(cluster: Cluster, namespace: str, max_replicas: int) -> str:
    """A ValidatingAdmissionPolicy bound to `namespace`: replicas and image tag rules."""
    name = f"guard-{uuid.uuid4().hex[:8]}"
    Cluster.create(
        cluster.admission.create_validating_admission_policy,
        {
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["apps"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            # kubectl scale (and the bot's scale) writes the scale subresource.
                            "resources": ["deployments", "deployments/scale"],
                        }
                    ]
                },
                "validations": [
                    {
                        # object is a Deployment or, for deployments/scale, an autoscaling/v1 Scale.
                        "expression": f"object.spec.replicas <= {max_replicas}",
                        "message": f"deployments here run at most {max_replicas} replicas",
                    },
                    {
                        "expression": "!has(object.spec.template) || "
                        "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
                        "message": "images must be pinned: the :latest tag is not allowed",
                    },
                ],
            },
        },
    )
    Cluster.create(
        cluster.admission.create_validating_admission_policy_binding,
        {
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
                },
            },
        },
    )
    return name


def enforced(cluster: Cluster, namespace: str, name: str, replicas: int) -> bool:
    """The policy is live once a server-side dry run of a scale past it is refused."""
    try:
        cluster.apps.patch_namespaced_deployment_scale(
            name, namespace, {"spec": {"replicas": replicas}}, dry_run="All"
        )
    except kubernetes.client.ApiException as error:
        return "denied request" in str(error.body)
    return False


@pytest.fixture
def guarded(cluster: Cluster, namespace: str) -> Iterator[str]:
    """The namespace with the API deployment rolled out and a policy of at most 10 replicas."""
    cluster.deploy(namespace, APP, RELEASES[:2])
    cluster.roll_out(namespace, APP)
    policy = admission_policy(cluster, namespace, max_replicas=10)
    # The API server picks a new policy up from its informer, a moment after it is created.
    wait_for(lambda: enforced(cluster, namespace, APP, 11))
    yield namespace
    cluster.admission.delete_validating_admission_policy_binding(policy)
    cluster.admission.delete_validating_admission_policy(policy)


@pytest.mark.parametrize(
    ("fix", "why"),
    [
        (action("k8s.scale", replicas=20), "deployments here run at most 10 replicas"),
        (
            action("k8s.set_image", image="ecap/api:latest"),
            "images must be pinned: the :latest tag is not allowed",
        ),
    ],
    ids=["scale-20", "image-latest"],
)
async def test_a_dry_run_refused_by_admission_is_one_line_and_changes_nothing(
    fix: WriteAction,
    why: str,
    cluster: Cluster,
    executor: KubernetesExecutor,
    guarded: str,
) -> None:
    binding = ServiceBinding(namespace=guarded, deployment=APP, container=APP)
    before = cluster.deployment(guarded, APP)["metadata"]["resourceVersion"]

    preview = await executor.preview(fix, binding)

    assert preview.error is not None
    assert "\n" not in preview.error and "Traceback" not in preview.error
    assert "ValidatingAdmissionPolicy" in preview.error and why in preview.error
    assert preview.error in preview.summary
    assert cluster.deployment(guarded, APP)["metadata"]["resourceVersion"] == before


async def test_a_fix_the_policy_allows_previews_and_changes_nothing(
    cluster: Cluster, executor: KubernetesExecutor, guarded: str
) -> None:
    binding = ServiceBinding(namespace=guarded, deployment=APP, container=APP)
    before = cluster.deployment(guarded, APP)["metadata"]["resourceVersion"]
    preview = await executor.preview(action("k8s.scale", replicas=10), binding)
    assert preview.error is None, preview.error
    assert "10" in preview.summary
    assert cluster.deployment(guarded, APP)["metadata"]["resourceVersion"] == before


async def test_the_engine_will_not_ask_approval_for_a_fix_admission_refuses(
    cluster: Cluster, namespace: str, control_plane: ControlPlane, tmp_path: Path
) -> None:
    """api-down's `scale-up` (to 5 replicas) against a namespace that allows at most 4."""
    service = "ecap-api"
    cluster.deploy(namespace, service, [template(service, container(service, "ecap/api:2.4.0"))])
    cluster.roll_out(namespace, service)
    policy = admission_policy(cluster, namespace, max_replicas=4)
    wait_for(lambda: enforced(cluster, namespace, service, 5))
    lead = Actor(id="U-LEAD", name="lead")
    templates = TemplateRenderer(REPO / "templates")
    config = Config(
        services={service: ServiceBinding(namespace=namespace, deployment=service)},
        approvers=[lead.id],
    )
    executors = build_executors(str(control_plane.kubeconfig))
    store = SqliteStore(tmp_path / "incidents.db")
    engine = Engine(
        load_playbooks(REPO / "playbooks", templates), config, store, executors, templates
    )
    try:
        incident = await engine.open("api-down", service, lead, "API returns 503")
        before = cluster.deployment(namespace, service)["metadata"]["resourceVersion"]

        with pytest.raises(InvalidRequest) as refused:
            await engine.request_fix(incident.id, "scale-up", lead)

        reason = str(refused.value)
        assert reason.startswith("cannot preview 'Scale up to 5 replicas': ")
        assert "deployments here run at most 4 replicas" in reason and "\n" not in reason
        stored = await engine.get(incident.id)
        assert stored.approvals == {}
        assert not [e for e in stored.timeline if e.event == "fix-requested"]
        assert cluster.deployment(namespace, service)["metadata"]["resourceVersion"] == before
    finally:
        await executors.close()
        await store.close()
        cluster.admission.delete_validating_admission_policy_binding(policy)
        cluster.admission.delete_validating_admission_policy(policy)
