"""The k8s.volumes read: `kubectl get pvc,pv` for the claims in a namespace."""

from __future__ import annotations

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import dig
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.describe import age, table
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.params import K8sVolumes
from bot.redact import redact


def _claim_row(claim: Obj) -> list[object]:
    return [
        dig(claim, "metadata", "name") or "",
        dig(claim, "status", "phase") or "Unknown",
        dig(claim, "spec", "volumeName") or "<none>",
        dig(claim, "status", "capacity", "storage")
        or dig(claim, "spec", "resources", "requests", "storage")
        or "",
        ",".join(dig(claim, "spec", "accessModes") or []) or "<none>",
        dig(claim, "spec", "storageClassName") or "<none>",
        age(dig(claim, "metadata", "creationTimestamp")),
    ]


def _volume_row(volume: Obj) -> list[object]:
    ref = dig(volume, "spec", "claimRef") or {}
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else "<none>"
    return [
        dig(volume, "metadata", "name") or "",
        dig(volume, "spec", "capacity", "storage") or "",
        dig(volume, "spec", "persistentVolumeReclaimPolicy") or "",
        dig(volume, "status", "phase") or "Unknown",
        claim,
        dig(volume, "spec", "storageClassName") or "<none>",
    ]


async def _volumes(kube: KubeClient) -> tuple[list[Obj], str]:
    """Every PersistentVolume, or none and why: listing them needs a cluster-wide grant."""
    try:
        return await kube.items("core", "list_persistent_volume", what="persistentvolumes"), ""
    except KubeError as exc:
        if exc.status != 403:
            raise
        return [], "(volumes not shown: the bot may not list persistentvolumes cluster-wide)"


async def read_volumes(kube: KubeClient, action: K8sVolumes, target: ServiceBinding) -> CheckResult:
    namespace = action.namespace or target.namespace
    claims = await kube.items(
        "core",
        "list_namespaced_persistent_volume_claim",
        namespace,
        what=f"persistentvolumeclaims in namespace {namespace}",
    )
    if not claims:
        return CheckResult(
            status="ok",
            summary=f"no persistent volume claims in namespace {namespace}",
            findings=[Finding(name="pvc.pending", value=0)],
        )
    volumes, note = await _volumes(kube)
    names = {dig(c, "spec", "volumeName") for c in claims} - {None}
    bound = [v for v in volumes if dig(v, "metadata", "name") in names]
    findings = [
        Finding(
            name="pvc.phase",
            value=str(dig(c, "status", "phase") or "Unknown"),
            subject=f"pvc/{dig(c, 'metadata', 'name') or ''}",
        )
        for c in claims
    ]
    waiting = [c for c in claims if dig(c, "status", "phase") != "Bound"]
    findings.append(Finding(name="pvc.pending", value=len(waiting)))
    parts = [
        table(
            ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"],
            [_claim_row(c) for c in claims],
        )
    ]
    if bound:
        headers = ["NAME", "CAPACITY", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS"]
        parts.append(table(headers, [_volume_row(v) for v in bound]))
    if note:
        parts.append(note)
    output = redact("\n\n".join(parts))
    if waiting:
        gist = ", ".join(
            f"{dig(c, 'metadata', 'name')} {dig(c, 'status', 'phase') or 'Unknown'}"
            for c in waiting
        )
        summary = f"{len(waiting)} of {len(claims)} claim(s) not Bound: {gist}"
        return CheckResult(status="problem", summary=summary, output=output, findings=findings)
    summary = f"{len(claims)} claim(s) in namespace {namespace}, all Bound"
    return CheckResult(status="ok", summary=summary, output=output, findings=findings)
