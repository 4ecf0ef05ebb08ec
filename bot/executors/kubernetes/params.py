"""Params of every Kubernetes action. Unset names default to the service binding's."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.executors.base import ReadAction, WriteAction
from bot.executors.params import (
    Argument,
    EnvName,
    ImageRef,
    K8sName,
    LabelSelector,
    Pattern,
    Quantity,
)

# --- reads -----------------------------------------------------------------------------


class K8sPods(ReadAction):
    """Pods with phase, readiness, restarts and the last termination reason."""

    type: Literal["k8s.pods"]
    namespace: K8sName | None = None
    selector: LabelSelector | None = None


class K8sDescribePods(ReadAction):
    """Describe-style detail of one pod, or of the service's pods that are not ready."""

    type: Literal["k8s.describe_pods"]
    namespace: K8sName | None = None
    selector: LabelSelector | None = None
    pod: K8sName | None = None


class K8sEvents(ReadAction):
    """Events in the namespace, newest last, optionally only those naming an object."""

    type: Literal["k8s.events"]
    namespace: K8sName | None = None
    involving: K8sName | None = None
    limit: int = Field(default=20, ge=1, le=500)


class K8sLogs(ReadAction):
    """Tail of a container's logs: one pod, or every pod of a deployment or selector."""

    type: Literal["k8s.logs"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None
    pod: K8sName | None = None
    selector: LabelSelector | None = None
    container: K8sName | None = None
    tail: int = Field(default=100, ge=1, le=5000)
    previous: bool = False
    since_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    # Keep only the lines matching this (case-insensitive), as `| grep` would.
    match: Pattern | None = None
    # Count the matching lines by their Nth space-separated field, as `cut -d' ' -fN | uniq -c`.
    count_field: int | None = Field(default=None, ge=1, le=50)


class K8sRolloutHistory(ReadAction):
    """Revisions of a deployment from its ReplicaSets: revision, image, age, pods."""

    type: Literal["k8s.rollout_history"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None


class K8sRolloutStatus(ReadAction):
    """ok once every desired replica is updated and available."""

    type: Literal["k8s.rollout_status"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None


class K8sNodes(ReadAction):
    """Nodes with readiness and pressure conditions."""

    type: Literal["k8s.nodes"]


class K8sDescribeNode(ReadAction):
    """Describe-style detail of a node; unset: the nodes running the service's pods."""

    type: Literal["k8s.describe_node"]
    node: K8sName | None = None
    namespace: K8sName | None = None
    selector: LabelSelector | None = None


class K8sTopNodes(ReadAction):
    """CPU and memory usage of nodes from metrics.k8s.io."""

    type: Literal["k8s.top_nodes"]


class K8sTopPods(ReadAction):
    """CPU and memory usage of pods from metrics.k8s.io, against their limits."""

    type: Literal["k8s.top_pods"]
    namespace: K8sName | None = None
    selector: LabelSelector | None = None


class K8sEndpoints(ReadAction):
    """Ready and not-ready addresses behind a Service."""

    type: Literal["k8s.endpoints"]
    namespace: K8sName | None = None
    service: K8sName | None = None


class K8sIngresses(ReadAction):
    """Ingresses in the namespace with hosts, paths and backends."""

    type: Literal["k8s.ingresses"]
    namespace: K8sName | None = None


class K8sConfigMap(ReadAction):
    """A config map's data, values of sensitive-looking keys redacted."""

    type: Literal["k8s.configmap"]
    namespace: K8sName | None = None
    name: K8sName | None = None


class K8sSecretKeys(ReadAction):
    """A secret's keys and type. Never its data."""

    type: Literal["k8s.secret_keys"]
    namespace: K8sName | None = None
    name: K8sName | None = None


class K8sEnv(ReadAction):
    """The container's environment, config maps it names expanded, redacted; secrets never read."""

    type: Literal["k8s.env"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None
    container: K8sName | None = None
    prefix: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class K8sNetworkPolicies(ReadAction):
    """Network policies in the namespace and the pods they select."""

    type: Literal["k8s.network_policies"]
    namespace: K8sName | None = None


class K8sVolumes(ReadAction):
    """`kubectl get pv,pvc`: claims in the namespace with phase, capacity and bound volume."""

    type: Literal["k8s.volumes"]
    namespace: K8sName | None = None


class K8sHpa(ReadAction):
    """`kubectl get hpa`: current and desired replicas against min and max, and the targets."""

    type: Literal["k8s.hpa"]
    namespace: K8sName | None = None
    name: K8sName | None = None


class K8sClusterInfo(ReadAction):
    """`kubectl cluster-info`: the API server answers, with its version."""

    type: Literal["k8s.cluster_info"]


class K8sExec(ReadAction):
    """Run the playbook's fixed argument list in a pod's container (no shell), show its output.

    The pod is `pod`, else the first running pod of `deployment` or `selector`, else of the
    service. The command is never text a user typed.
    """

    type: Literal["k8s.exec"]
    namespace: K8sName | None = None
    pod: K8sName | None = None
    deployment: K8sName | None = None
    selector: LabelSelector | None = None
    container: K8sName | None = None
    command: list[Argument] = Field(min_length=1, max_length=32)
    timeout_s: float = Field(default=10.0, gt=0, le=120)


# --- writes ----------------------------------------------------------------------------


class K8sRolloutRestart(WriteAction):
    """Restart every pod of a deployment by stamping its template, as kubectl does."""

    type: Literal["k8s.rollout_restart"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None


class K8sScale(WriteAction):
    """Set a deployment's replica count; a responder may pick another from the step's menu."""

    type: Literal["k8s.scale"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None
    replicas: int = Field(ge=0, le=500)
    # Other counts the runbook names, offered on the menu with the live count and twice it.
    offered: list[Annotated[int, Field(ge=1, le=500)]] = Field(default_factory=list, max_length=5)
    # No pick from the menu goes above this; unset: twice the runbook's count.
    max_replicas: int | None = Field(default=None, ge=1, le=500)

    def ceiling(self) -> int:
        """The highest count the menu offers."""
        return self.max_replicas or max(self.replicas * 2, 1)

    @model_validator(mode="after")
    def _within_the_maximum(self) -> K8sScale:
        if any(n > self.ceiling() for n in (self.replicas, *self.offered)):
            raise ValueError(f"replicas above max_replicas ({self.ceiling()})")
        return self


class K8sSetImage(WriteAction):
    """Set one container's image."""

    type: Literal["k8s.set_image"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None
    container: K8sName | None = None
    image: ImageRef


class K8sRolloutUndo(WriteAction):
    """`kubectl rollout undo`: to `to_revision`, or unset, the previous revision."""

    type: Literal["k8s.rollout_undo"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None
    to_revision: int | None = Field(default=None, ge=1)


class ResourceAmounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu: Quantity | None = None
    memory: Quantity | None = None


# The factors (in percent of the current values) a raise of resources offers on its menu.
RESOURCE_FACTORS = (150, 200)


class K8sPatchResources(WriteAction):
    """Set one container's resource requests and limits.

    With `only_raise` ("scale up resources") no amount is lowered: each given amount is a floor
    the current one is raised to, and the menu offers `factor_percent` of the current amounts.
    """

    type: Literal["k8s.patch_resources"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None
    container: K8sName | None = None
    requests: ResourceAmounts = ResourceAmounts()
    limits: ResourceAmounts = ResourceAmounts()
    only_raise: bool = False
    factor_percent: int | None = Field(default=None, ge=101, le=400)

    @model_validator(mode="after")
    def _something_to_set(self) -> K8sPatchResources:
        amounts = (self.requests.cpu, self.requests.memory, self.limits.cpu, self.limits.memory)
        if not any(amounts) and self.factor_percent is None:
            raise ValueError("set at least one of requests or limits")
        if self.factor_percent is not None and not self.only_raise:
            raise ValueError("factor_percent raises resources: it needs only_raise")
        return self


class K8sDeletePod(WriteAction):
    """Delete one pod so its controller recreates it."""

    type: Literal["k8s.delete_pod"]
    namespace: K8sName | None = None
    pod: K8sName


class K8sPatchServiceSelector(WriteAction):
    """Point a Service at other pods (e.g. a maintenance page), or back."""

    type: Literal["k8s.patch_service_selector"]
    namespace: K8sName | None = None
    service: K8sName | None = None
    selector: LabelSelector


class K8sSetEnv(WriteAction):
    """`kubectl set env deployment/NAME KEY=VALUE`: set variables on one container."""

    type: Literal["k8s.set_env"]
    namespace: K8sName | None = None
    deployment: K8sName | None = None
    container: K8sName | None = None
    env: dict[EnvName, Annotated[str, Field(max_length=1024)]] = Field(min_length=1, max_length=20)


class K8sPatchHpa(WriteAction):
    """Change an HPA's replica bounds and/or CPU target."""

    type: Literal["k8s.patch_hpa"]
    namespace: K8sName | None = None
    name: K8sName | None = None
    min_replicas: int | None = Field(default=None, ge=1, le=500)
    max_replicas: int | None = Field(default=None, ge=1, le=500)
    cpu_target_percent: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _something_to_set(self) -> K8sPatchHpa:
        if self.min_replicas is None and self.max_replicas is None and not self.cpu_target_percent:
            raise ValueError("set at least one of min_replicas, max_replicas, cpu_target_percent")
        if self.min_replicas and self.max_replicas and self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


READS = (
    K8sPods, K8sDescribePods, K8sEvents, K8sLogs, K8sRolloutHistory, K8sRolloutStatus,
    K8sNodes, K8sDescribeNode, K8sTopNodes, K8sTopPods, K8sEndpoints, K8sIngresses,
    K8sConfigMap, K8sSecretKeys, K8sEnv, K8sNetworkPolicies, K8sVolumes, K8sHpa,
    K8sClusterInfo, K8sExec,
)  # fmt: skip
WRITES = (
    K8sRolloutRestart, K8sScale, K8sSetImage, K8sRolloutUndo, K8sPatchResources,
    K8sDeletePod, K8sPatchServiceSelector, K8sSetEnv, K8sPatchHpa,
)  # fmt: skip
