"""deploy/kubernetes/ against the real API server: it applies, and its pods are `restricted`."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator

import pytest
import yaml

from tests.support.real_cluster import KUBECTL, Cluster
from tests.support.service_account import ROOT


@pytest.fixture(scope="module")
def deploy_namespaces(cluster: Cluster) -> Iterator[list[str]]:
    """The namespaces deploy/kubernetes/ names, made as the README's steps have them made."""
    folder = ROOT / "deploy" / "kubernetes"
    # The bot's own namespace as namespace.yaml has it (Pod Security `restricted`), for real: a
    # server-side dry run creates nothing, so the objects in it would find no namespace.
    cluster.kubectl("apply", "-f", str(folder / "namespace.yaml"))
    # Its pods' ServiceAccount too: admission looks it up before Pod Security sees the pod.
    cluster.kubectl("apply", "-f", str(folder / "serviceaccount.yaml"))
    named = [
        o["metadata"]["namespace"]
        for o in yaml.safe_load_all((folder / "rbac.yaml").read_text())
        if o and o["kind"] == "Role"
    ]
    for name in named:
        Cluster.create(cluster.core.create_namespace, {"metadata": {"name": name}})
    made = ["runbook-bot", *named]
    yield made
    for name in made:
        cluster.delete_namespace(name)


@pytest.mark.parametrize("folder", ["deploy/kubernetes", "deploy/kubernetes/examples"])
def test_the_manifests_apply_on_the_real_api_server(
    cluster: Cluster, deploy_namespaces: list[str], folder: str
) -> None:
    """`kubectl apply --dry-run=server`: validated, defaulted and admitted, nothing kept."""
    out = subprocess.run(
        [KUBECTL, f"--kubeconfig={cluster.kubeconfig}", "apply", "--dry-run=server",
         "-f", str(ROOT / folder)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    # A warning here is PodSecurity's `restricted` refusing the pods the controllers would make.
    assert "Warning" not in out.stderr, out.stderr
    assert "(server dry run)" in out.stdout and "error" not in out.stdout.lower(), out.stdout


def test_the_workloads_pods_pass_pod_security_restricted(
    cluster: Cluster, deploy_namespaces: list[str]
) -> None:
    """Pod Security enforces on pods, not on the workloads that make them: dry-run those pods."""
    folder = ROOT / "deploy" / "kubernetes"
    workloads = [
        o
        for path in sorted(folder.glob("*.yaml"))
        for o in yaml.safe_load_all(path.read_text())
        if o and o["kind"] in ("Deployment", "StatefulSet")
    ]
    assert {o["kind"] for o in workloads} == {"Deployment", "StatefulSet"}
    for workload in workloads:
        name, spec = workload["metadata"]["name"], workload["spec"]
        pod_spec = copy.deepcopy(spec["template"]["spec"])
        # A StatefulSet's pod mounts the claim made from its template, named as the controller
        # names it.
        for claim in spec.get("volumeClaimTemplates", []):
            claim_name = f"{claim['metadata']['name']}-{name}-0"
            pod_spec.setdefault("volumes", []).append(
                {"name": claim["metadata"]["name"],
                 "persistentVolumeClaim": {"claimName": claim_name}}
            )  # fmt: skip
        pod = {
            "metadata": {**spec["template"].get("metadata", {}), "name": f"{name}-0"},
            "spec": pod_spec,
        }
        # Refused with 403 (and the violations named) when the pod is not `restricted`.
        Cluster.create(
            cluster.core.create_namespaced_pod,
            workload["metadata"]["namespace"],
            pod,
            dry_run="All",
        )
