"""Deployments and their revisions: rollout history and rollout status."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import dig
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.describe import age, minutes_since, table
from bot.executors.kubernetes.params import K8sRolloutHistory, K8sRolloutStatus
from bot.redact import redact

REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Revision:
    """One ReplicaSet of a deployment, as `kubectl rollout history` sees it."""

    number: int
    replica_set: Obj

    @property
    def image(self) -> str:
        return images(dig(self.replica_set, "spec", "template") or {})

    @property
    def created(self) -> str:
        return str(dig(self.replica_set, "metadata", "creationTimestamp") or "")


def images(template: Obj) -> str:
    containers = dig(template, "spec", "containers") or []
    return ",".join(str(c.get("image", "")) for c in containers)


def selector_of(deployment: Obj) -> str:
    """The deployment's matchLabels as a label selector string."""
    labels = dig(deployment, "spec", "selector", "matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def revision_of(obj: Obj) -> int:
    try:
        return int((dig(obj, "metadata", "annotations") or {}).get(REVISION, 0))
    except ValueError:
        return 0


async def read_deployment(kube: KubeClient, namespace: str, name: str) -> Obj:
    return await kube.obj(
        "apps",
        "read_namespaced_deployment",
        name,
        namespace,
        what=f"deployment {name} in namespace {namespace}",
    )


async def revisions(kube: KubeClient, deployment: Obj) -> list[Revision]:
    """The deployment's ReplicaSets by revision, oldest first."""
    namespace = str(dig(deployment, "metadata", "namespace") or "default")
    uid = dig(deployment, "metadata", "uid")
    sets = await kube.items(
        "apps",
        "list_namespaced_replica_set",
        namespace,
        label_selector=selector_of(deployment) or None,
        what=f"replicasets in namespace {namespace}",
    )
    owned = [
        rs
        for rs in sets
        if not uid
        or any(ref.get("uid") == uid for ref in dig(rs, "metadata", "ownerReferences") or [])
    ]
    return sorted((Revision(revision_of(rs), rs) for rs in owned), key=lambda r: r.number)


async def read_rollout_history(
    kube: KubeClient, action: K8sRolloutHistory, target: ServiceBinding
) -> CheckResult:
    namespace = action.namespace or target.namespace
    name = action.deployment or target.deployment
    deployment = await read_deployment(kube, namespace, name)
    history = await revisions(kube, deployment)
    current_number = revision_of(deployment) or max((r.number for r in history), default=0)
    rows = [
        [
            r.number,
            r.image,
            age(r.created),
            f"{dig(r.replica_set, 'status', 'readyReplicas') or 0}/"
            f"{dig(r.replica_set, 'spec', 'replicas') or 0}",
            "current" if r.number == current_number else "",
        ]
        for r in history
    ]
    output = table(["REVISION", "IMAGE", "CREATED", "PODS", ""], rows)
    current = next((r for r in history if r.number == current_number), None)
    image = current.image if current else images(dig(deployment, "spec", "template") or {})
    findings = [
        Finding(name="rollout.revision", value=current_number, subject=f"deployment/{name}"),
        Finding(name="rollout.image", value=image, subject=f"deployment/{name}"),
    ]
    summary = f"deployment/{name} at revision {current_number} ({image}"
    if current is not None:
        minutes = minutes_since(current.created)
        if minutes is not None:
            findings.append(
                Finding(name="rollout.age_minutes", value=minutes, subject=f"deployment/{name}")
            )
            summary += f", {age(current.created)} ago"
    summary += ")"
    # One finding per revision: the menu a rollback offers is read from these.
    findings += [
        Finding(name="rollout.history", value=r.image, subject=f"revision/{r.number}")
        for r in history
    ]
    previous = [r for r in history if r.number < current_number]
    if previous:
        findings.append(
            Finding(
                name="rollout.previous_image",
                value=previous[-1].image,
                subject=f"deployment/{name}",
            )
        )
        summary += f"; previous: revision {previous[-1].number} ({previous[-1].image})"
    return CheckResult(
        status="ok", summary=redact(summary), output=redact(output), findings=findings
    )


async def read_rollout_status(
    kube: KubeClient, action: K8sRolloutStatus, target: ServiceBinding
) -> CheckResult:
    namespace = action.namespace or target.namespace
    name = action.deployment or target.deployment
    deployment = await read_deployment(kube, namespace, name)
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    observed = int(status.get("observedGeneration") or 0) >= int(
        dig(deployment, "metadata", "generation") or 0
    )
    subject = f"deployment/{name}"
    findings = [
        Finding(name="rollout.available", value=available, subject=subject),
        Finding(name="rollout.desired", value=desired, subject=subject),
        Finding(name="rollout.updated", value=updated, subject=subject),
    ]
    output = table(
        ["DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE"], [[desired, total, updated, available]]
    )
    if observed and updated == available == desired and total <= desired:
        summary = f"{subject} rolled out: {available}/{desired} replicas available"
        return CheckResult(status="ok", summary=summary, output=output, findings=findings)
    summary = f"{available}/{desired} replicas available ({updated} updated)"
    if not observed:
        summary += "; the controller has not seen the latest change yet"
    for condition in status.get("conditions") or []:
        if condition.get("reason") == "ProgressDeadlineExceeded":
            summary += "; progress deadline exceeded"
    return CheckResult(status="problem", summary=summary, output=output, findings=findings)
