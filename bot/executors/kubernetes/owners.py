"""Which workload each pod belongs to, from ownerReferences as the controllers set them."""

from __future__ import annotations

from bot.executors.base import Finding
from bot.executors.common import dig
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.failure import KubeError


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference of the object's managing controller, else its first owner, if any."""
    refs = [ref for ref in dig(obj, "metadata", "ownerReferences") or [] if isinstance(ref, dict)]
    return next((ref for ref in refs if ref.get("controller")), refs[0] if refs else None)


def _named(ref: Obj) -> str:
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


async def _replica_sets(kube: KubeClient, namespace: str) -> dict[str, Obj] | None:
    """The namespace's ReplicaSets by uid; None when they cannot be listed."""
    try:
        sets = await kube.items(
            "apps",
            "list_namespaced_replica_set",
            namespace,
            what=f"replicasets in namespace {namespace}",
        )
    except KubeError:
        # The pods' own findings matter more than their owners: go on without them.
        return None
    return {str(dig(rs, "metadata", "uid")): rs for rs in sets}


async def owner_findings(kube: KubeClient, namespace: str, pods: list[Obj]) -> list[Finding]:
    """`pod.owner` of each owned pod: its workload as `kind/name` (a ReplicaSet's Deployment).

    A pod of a ReplicaSet that cannot be listed gets no owner rather than a wrong one.
    """
    refs = {str(dig(pod, "metadata", "name") or ""): controller_of(pod) for pod in pods}
    owned = {name: ref for name, ref in refs.items() if ref is not None}
    sets: dict[str, Obj] | None = {}
    if any(ref.get("kind") == "ReplicaSet" for ref in owned.values()):
        sets = await _replica_sets(kube, namespace)
    findings = []
    for name, ref in owned.items():
        if ref.get("kind") == "ReplicaSet":
            if sets is None:
                continue
            # A ReplicaSet of its own (no Deployment) is the workload itself.
            ref = controller_of(sets.get(str(ref.get("uid")), {})) or ref
        findings.append(Finding(name="pod.owner", value=_named(ref), subject=f"pod/{name}"))
    return findings
