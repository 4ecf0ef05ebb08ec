"""Pods: what the cluster remembers of each one, and its JSON with a computed status."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

from bot.drills.kubernetes.defaults import admitted_pod_spec, defaulted_template
from bot.drills.kubernetes.health import PodState
from bot.drills.kubernetes.objects import Obj, meta, timestamp

Role = Literal["app", "dependency", "ingress"]
# Kubelet reports ErrImagePull on an attempt, then ImagePullBackOff while it waits to retry.
PULL_RETRY_SECONDS = 5.0


@dataclass
class PodRecord:
    """A pod as created by its controller; its status is derived whenever it is read."""

    name: str
    namespace: str
    labels: dict[str, str]
    spec: Obj
    created: float
    node: str
    ip: str
    role: Role
    owner: Obj | None = None
    crash_log: list[str] = field(default_factory=list)
    # The config map values its container started with (envFrom is read once, at start).
    config: dict[str, str] = field(default_factory=dict)
    metadata: Obj = field(init=False)

    def __post_init__(self) -> None:
        self.metadata = meta(self.name, self.namespace, self.created, self.labels)
        if self.owner:
            self.metadata["ownerReferences"] = [self.owner]

    @property
    def container(self) -> Obj:
        first: Obj = self.spec["containers"][0]
        return first


def _condition(kind: str, ok: bool, at: float, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": kind, "status": "True" if ok else "False"}
    cond["lastTransitionTime"] = timestamp(at)
    cond["lastProbeTime"] = None
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _container_status(pod: PodRecord, state: PodState, ready_delay: float, now: float) -> Obj:
    container = pod.container
    started = pod.created + ready_delay
    status: Obj = {
        "name": container["name"],
        "image": container["image"],
        "imageID": f"docker.io/{container['image']}@sha256:{pod.metadata['uid'].replace('-', '')}",
        "restartCount": state.restarts,
        "ready": state.phase == "ready",
        "started": state.phase in ("ready", "unready"),
        "lastState": {},
    }
    if state.phase == "creating":
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return status
    if state.phase == "pullfailed":
        status["state"] = {"waiting": pull_failure(container["image"], now - started)}
        return status
    status["containerID"] = f"containerd://{pod.metadata['uid'].replace('-', '')}"
    if state.phase in ("oomkilled", "crashing"):
        reason, code = ("OOMKilled", 137) if state.phase == "oomkilled" else ("Error", 1)
        finished = max(started, now - 20)
        status["lastState"] = {
            "terminated": {
                "reason": reason,
                "exitCode": code,
                "startedAt": timestamp(finished - 5),
                "finishedAt": timestamp(finished),
                "containerID": status["containerID"],
            }
        }
        message = (
            f"back-off 5m0s restarting failed container={container['name']} "
            f"pod={pod.name}_{pod.namespace}({pod.metadata['uid']})"
        )
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    else:
        status["state"] = {"running": {"startedAt": timestamp(started)}}
    return status


def pull_failure(image: str, seconds: float) -> Obj:
    """The waiting state of a container whose image cannot be pulled, `seconds` after trying."""
    if seconds < PULL_RETRY_SECONDS:
        ref = f"docker.io/{image}"
        message = (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
            f'failed to resolve reference "{ref}": {ref}: not found'
        )
        return {"reason": "ErrImagePull", "message": message}
    return {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}


def render_pod(pod: PodRecord, state: PodState, ready_delay: float, now: float) -> Obj:
    """The pod's JSON as the API server would answer it now."""
    spec = admitted_pod_spec(defaulted_template({"spec": pod.spec})["spec"], pod.name)
    obj: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": copy.deepcopy(pod.metadata)}
    obj["spec"] = spec
    if state.phase == "unschedulable":
        obj["status"] = {
            "phase": "Pending",
            "qosClass": "Burstable",
            "conditions": [
                _condition("PodScheduled", False, pod.created, "Unschedulable", state.message)
            ],
        }
        return obj
    spec["nodeName"] = pod.node
    ready = state.phase == "ready"
    not_ready = "" if ready else "ContainersNotReady"
    why = "" if ready else f"containers with unready status: [{pod.container['name']}]"
    obj["status"] = {
        "phase": "Pending" if state.phase in ("creating", "pullfailed") else "Running",
        "hostIP": f"10.0.0.{10 + int(pod.ip.split('.')[2])}",
        "podIP": pod.ip,
        "podIPs": [{"ip": pod.ip}],
        "startTime": timestamp(pod.created),
        "qosClass": "Burstable",
        "conditions": [
            _condition("Initialized", True, pod.created),
            _condition("Ready", ready, pod.created + ready_delay, not_ready, why),
            _condition("ContainersReady", ready, pod.created + ready_delay, not_ready, why),
            _condition("PodScheduled", True, pod.created),
        ],
        "containerStatuses": [_container_status(pod, state, ready_delay, now)],
    }
    return obj
