"""Objects staged on the real control plane, as a kubelet and a release pipeline would leave them.

There is no kubelet: a pod's status (running, ready, crash-looping after an OOM kill) is written
through the `status` subresource, as a kubelet reports it. Releases are template changes the real
deployment controller turns into ReplicaSets with revision numbers.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes

Obj = dict[str, Any]
KUBECTL = str(Path(sys.executable).parent / "kubectl")
_WAIT_S = 30.0


class Cluster:
    """The admin's view of the real API server: create, stage and read objects as plain dicts."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=config
        )
        self.api = kubernetes.client.ApiClient(config)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.apps = kubernetes.client.AppsV1Api(self.api)
        self.autoscaling = kubernetes.client.AutoscalingV2Api(self.api)
        self.networking = kubernetes.client.NetworkingV1Api(self.api)
        self.rbac = kubernetes.client.RbacAuthorizationV1Api(self.api)
        self.admission = kubernetes.client.AdmissionregistrationV1Api(self.api)

    @staticmethod
    def read(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj:
        """The object as the server sent it (JSON), not the client's model classes."""
        data: Obj = json.loads(call(*args, _preload_content=False, **kwargs).data)
        return data

    @staticmethod
    def create(call: Callable[..., object], *args: object, **kwargs: object) -> None:
        """Create an object from a plain dict body, spelled as the server's JSON is."""
        # The client's create_* calls send a dict as it is, though they are typed to take models.
        call(*args, **kwargs)

    def kubectl(self, *args: str, namespace: str | None = None) -> str:
        """Run the real kubectl against the cluster; fails the test on a non-zero exit."""
        command = [KUBECTL, f"--kubeconfig={self.kubeconfig}"]
        command += [f"--namespace={namespace}"] if namespace else []
        out = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    # --- namespaces ----------------------------------------------------------------------

    def new_namespace(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.create(self.core.create_namespace, {"metadata": {"name": name}})
        # Pods need the namespace's default service account, which the controller makes.
        wait_for(lambda: _exists(self.core.read_namespaced_service_account, "default", name))
        return name

    def delete_namespace(self, name: str) -> None:
        self.core.delete_namespace(name)

    # --- deployments and their releases --------------------------------------------------

    def deploy(
        self,
        namespace: str,
        name: str,
        templates: list[Obj],
        replicas: int = 3,
        *,
        each: bool = False,
    ) -> Obj:
        """Create the deployment at the first template, then release each next one in turn.

        With `each`, every release is rolled out (its pods reported ready) before the next, as
        releases that went out one after another leave the older ReplicaSets scaled to zero.
        """
        body = {
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": templates[0],
            },
        }
        self.create(self.apps.create_namespaced_deployment, namespace, body)
        self.settle(namespace, name, revision=1)
        for number, template in enumerate(templates[1:], start=2):
            if each:
                self.roll_out(namespace, name)
            self.apps.patch_namespaced_deployment(
                name,
                namespace,
                [{"op": "replace", "path": "/spec/template", "value": template}],
                _content_type="application/json-patch+json",
            )
            self.settle(namespace, name, revision=number)
        if each:
            self.roll_out(namespace, name)
        return self.deployment(namespace, name)

    def deployment(self, namespace: str, name: str) -> Obj:
        return self.read(self.apps.read_namespaced_deployment, name, namespace)

    def replica_sets(self, namespace: str, name: str) -> list[Obj]:
        listing = self.read(
            self.apps.list_namespaced_replica_set, namespace, label_selector=f"app={name}"
        )
        items: list[Obj] = listing["items"]
        return sorted(items, key=revision)

    def pods(self, namespace: str, selector: str) -> list[Obj]:
        items: list[Obj] = self.read(
            self.core.list_namespaced_pod, namespace, label_selector=selector
        )["items"]
        return items

    def settle(self, namespace: str, name: str, *, revision: int | None = None) -> Obj:
        """Wait until the deployment controller has seen the latest change (and made revision)."""

        def seen() -> bool:
            dep = self.deployment(namespace, name)
            observed = dep.get("status", {}).get("observedGeneration", 0)
            if observed < dep["metadata"]["generation"]:
                return False
            return revision is None or str(revision) == annotation(dep, REVISION)

        wait_for(seen)
        return self.deployment(namespace, name)

    # --- what a kubelet would report -----------------------------------------------------

    def roll_out(self, namespace: str, name: str) -> Obj:
        """Report each new pod ready until the deployment is rolled out and its status still."""

        def done() -> bool:
            self.report_pods(namespace, f"app={name}", "running", only_new=True)
            dep = self.deployment(namespace, name)
            status, wanted = dep.get("status", {}), dep["spec"]["replicas"]
            counts = (
                status.get(k, 0) for k in ("replicas", "updatedReplicas", "availableReplicas")
            )
            return status.get("observedGeneration") == dep["metadata"]["generation"] and all(
                count == wanted for count in counts
            )

        wait_for(done)
        return self.deployment(namespace, name)

    def report_pods(
        self, namespace: str, selector: str, state: str = "running", *, only_new: bool = False
    ) -> list[Obj]:
        """Write each matching pod's status: 'running' (ready) or 'oom-crashloop'."""
        if not only_new:
            wait_for(lambda: bool(self.pods(namespace, selector)))
        reported = []
        for index, pod in enumerate(self.pods(namespace, selector)):
            if only_new and pod.get("status", {}).get("containerStatuses"):
                continue
            status = pod_status(pod, state, index)
            try:
                reported.append(
                    self.read(
                        self.core.patch_namespaced_pod_status,
                        pod["metadata"]["name"],
                        namespace,
                        {"status": status},
                    )
                )
            except kubernetes.client.ApiException as error:
                # Mid-rollout the ReplicaSet controller deletes old pods (at once: unscheduled).
                if error.status != 404:
                    raise
        return reported

    # --- nodes, as a kubelet registers and reports them ----------------------------------

    def report_node(self, name: str, *, pressure: str = "") -> Obj:
        """Register the node if new and report it Ready now (and under `pressure`, if given).

        No kubelet answers at its address: logs and exec on its pods fail as on a dead node.
        Without heartbeats the node controller marks it NotReady after its grace period, so
        report it again right before reading it.
        """
        if not _exists(self.core.read_node, name):
            Cluster.create(self.core.create_node, {"metadata": {"name": name}})
        return self.read(self.core.patch_node_status, name, {"status": node_status(pressure)})

    def schedule(self, namespace: str, selector: str, node: str) -> None:
        """Bind each unscheduled matching pod to `node`, as the scheduler does."""
        for pod in self.pods(namespace, selector):
            name = pod["metadata"]["name"]
            if not pod["spec"].get("nodeName"):
                Cluster.create(
                    self.core.create_namespaced_pod_binding,
                    name,
                    namespace,
                    {"metadata": {"name": name}, "target": {"kind": "Node", "name": node}},
                    _preload_content=False,
                )


REVISION = "deployment.kubernetes.io/revision"


def annotation(obj: Obj, key: str) -> str | None:
    value = (obj.get("metadata", {}).get("annotations") or {}).get(key)
    return None if value is None else str(value)


def revision(obj: Obj) -> int:
    return int(annotation(obj, REVISION) or 0)


def container(name: str, image: str, **fields: Any) -> Obj:
    return {"name": name, "image": image, **fields}


def template(app: str, *containers: Obj, annotations: dict[str, str] | None = None) -> Obj:
    metadata: Obj = {"labels": {"app": app}}
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": {"containers": list(containers)}}


def pod_status(pod: Obj, state: str, index: int) -> Obj:
    """The status a kubelet reports for a pod in `state`."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = state == "running"
    statuses = []
    for spec in pod["spec"]["containers"]:
        status: Obj = {
            "name": spec["name"],
            "image": spec["image"],
            "imageID": "",
            "ready": ready,
            "restartCount": 0 if ready else 6,
            "started": ready,
        }
        if ready:
            status["state"] = {"running": {"startedAt": now}}
        else:
            status["state"] = {
                "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}
            }
            status["lastState"] = {
                "terminated": {
                    "reason": "OOMKilled",
                    "exitCode": 137,
                    "startedAt": now,
                    "finishedAt": now,
                }
            }
        statuses.append(status)
    condition = "True" if ready else "False"
    # A pod keeps its IP: the API server refuses a second one of the same family.
    ip = pod.get("status", {}).get("podIP") or f"10.244.0.{10 + index}"
    return {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "hostIP": "10.0.0.1",
        "startTime": now,
        "conditions": [
            {"type": kind, "status": condition, "lastTransitionTime": now}
            for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": statuses,
    }


def node_status(pressure: str = "") -> Obj:
    """A node's status as its kubelet reports it: Ready, 4 CPUs and 8Gi, no kubelet port open."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [
        {"type": kind, "status": "True" if kind in ("Ready", pressure) else "False"}
        for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    for condition in conditions:
        condition.update(lastHeartbeatTime=now, lastTransitionTime=now, reason="Reported")
    amounts = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {
        "conditions": conditions,
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        # Port 1: nothing listens there, as on a node whose kubelet is gone.
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}},
        "capacity": amounts,
        "allocatable": amounts,
        "nodeInfo": {"kubeletVersion": "v1.37.2"},
    }


def wait_for(condition: Callable[[], bool], timeout: float = _WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {condition}")


def _exists(call: Callable[..., Any], *args: Any) -> bool:
    try:
        call(*args)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def differences(got: Any, expected: Any, names: tuple[str, str] = ("expected", "got")) -> str:
    """Two objects as a unified diff of their JSON, for an assertion's message."""
    before, after = (json.dumps(o, indent=1, sort_keys=True).splitlines() for o in (expected, got))
    return "\n".join(difflib.unified_diff(before, after, *names, lineterm=""))
