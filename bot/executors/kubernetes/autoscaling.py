"""The k8s.hpa read: HorizontalPodAutoscalers (autoscaling/v2) against their bounds."""

from __future__ import annotations

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import dig
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.describe import age, table
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.params import K8sHpa
from bot.redact import redact

CPU = "cpu"


async def read_hpa_object(kube: KubeClient, namespace: str, name: str) -> Obj:
    return await kube.obj(
        "autoscaling",
        "read_namespaced_horizontal_pod_autoscaler",
        name,
        namespace,
        what=f"horizontalpodautoscaler {name} in namespace {namespace}",
    )


def cpu_target(hpa: Obj) -> int | None:
    """The target average CPU utilization (percent of requests), None if it has none."""
    for metric in dig(hpa, "spec", "metrics") or []:
        if metric.get("type") == "Resource" and dig(metric, "resource", "name") == CPU:
            value = dig(metric, "resource", "target", "averageUtilization")
            return int(value) if value is not None else None
    return None


def with_cpu_target(hpa: Obj, percent: int) -> list[Obj]:
    """The HPA's metrics with the CPU utilization target set (added if it had none)."""
    target = {"type": "Utilization", "averageUtilization": percent}
    metrics = [dict(m) for m in dig(hpa, "spec", "metrics") or []]
    for i, metric in enumerate(metrics):
        if metric.get("type") == "Resource" and dig(metric, "resource", "name") == CPU:
            metrics[i] = {**metric, "resource": {**metric["resource"], "target": target}}
            return metrics
    return [*metrics, {"type": "Resource", "resource": {"name": CPU, "target": target}}]


def bounds(hpa: Obj) -> dict[str, str]:
    """What k8s.patch_hpa changes, as flat fields for its before/after."""
    target = cpu_target(hpa)
    return {
        "minReplicas": str(dig(hpa, "spec", "minReplicas") or 1),
        "maxReplicas": str(dig(hpa, "spec", "maxReplicas") or ""),
        "cpu target": f"{target}%" if target is not None else "<none>",
    }


def _current_cpu(hpa: Obj) -> int | None:
    for metric in dig(hpa, "status", "currentMetrics") or []:
        if metric.get("type") == "Resource" and dig(metric, "resource", "name") == CPU:
            value = dig(metric, "resource", "current", "averageUtilization")
            return int(value) if value is not None else None
    return None


def _targets(hpa: Obj) -> str:
    target, current = cpu_target(hpa), _current_cpu(hpa)
    if target is None:
        count = len(dig(hpa, "spec", "metrics") or [])
        return f"{count} metric(s)" if count else "<none>"
    return f"cpu: {'<unknown>' if current is None else f'{current}%'}/{target}%"


def _inactive(hpa: Obj) -> str:
    """Why the HPA cannot scale (e.g. no metrics for unready pods), or ""."""
    for c in dig(hpa, "status", "conditions") or []:
        if c.get("type") == "ScalingActive" and c.get("status") == "False":
            return str(c.get("reason") or "ScalingActive False")
    return ""


def _facts(hpa: Obj) -> tuple[list[Finding], bool]:
    subject = f"hpa/{dig(hpa, 'metadata', 'name') or ''}"
    current = int(dig(hpa, "status", "currentReplicas") or 0)
    desired = int(dig(hpa, "status", "desiredReplicas") or 0)
    high = int(dig(hpa, "spec", "maxReplicas") or 0)
    at_max = high > 0 and current >= high
    facts: list[tuple[str, int | bool]] = [
        ("hpa.current_replicas", current),
        ("hpa.desired_replicas", desired),
        ("hpa.min_replicas", int(dig(hpa, "spec", "minReplicas") or 1)),
        ("hpa.max_replicas", high),
        ("hpa.at_max", at_max),
        ("hpa.missing", False),
    ]
    return [Finding(name=n, value=v, subject=subject) for n, v in facts], at_max


def _row(hpa: Obj) -> list[object]:
    ref = dig(hpa, "spec", "scaleTargetRef") or {}
    return [
        dig(hpa, "metadata", "name") or "",
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _targets(hpa),
        dig(hpa, "spec", "minReplicas") or 1,
        dig(hpa, "spec", "maxReplicas") or "",
        dig(hpa, "status", "currentReplicas") or 0,
        dig(hpa, "status", "desiredReplicas") or 0,
        age(dig(hpa, "metadata", "creationTimestamp")),
    ]


async def read_hpa(kube: KubeClient, action: K8sHpa, target: ServiceBinding) -> CheckResult:
    namespace = action.namespace or target.namespace
    name = action.name or target.deployment
    if name:
        try:
            hpas = [await read_hpa_object(kube, namespace, name)]
        except KubeError as exc:
            if exc.status != 404:
                raise
            return CheckResult(
                status="problem",
                summary=f"no HPA named {name} in namespace {namespace}",
                findings=[Finding(name="hpa.missing", value=True, subject=f"hpa/{name}")],
            )
    else:
        hpas = await kube.items(
            "autoscaling",
            "list_namespaced_horizontal_pod_autoscaler",
            namespace,
            what=f"horizontalpodautoscalers in namespace {namespace}",
        )
        if not hpas:
            return CheckResult(status="ok", summary=f"no HPAs in namespace {namespace}")
    findings: list[Finding] = []
    troubles: list[str] = []
    for hpa in hpas:
        facts, at_max = _facts(hpa)
        findings += facts
        hpa_name = dig(hpa, "metadata", "name")
        if at_max:
            troubles.append(f"{hpa_name} at its maximum of {dig(hpa, 'spec', 'maxReplicas')}")
        if _inactive(hpa):
            troubles.append(f"{hpa_name} cannot scale ({_inactive(hpa)})")
    headers = ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "DESIRED", "AGE"]
    output = redact(table(headers, [_row(h) for h in hpas]))
    if len(hpas) == 1:
        hpa = hpas[0]
        gist = (
            f"hpa/{dig(hpa, 'metadata', 'name')}: {dig(hpa, 'status', 'currentReplicas') or 0} "
            f"replicas (desired {dig(hpa, 'status', 'desiredReplicas') or 0}, "
            f"min {dig(hpa, 'spec', 'minReplicas') or 1}, max {dig(hpa, 'spec', 'maxReplicas')}),"
            f" {_targets(hpa)}"
        )
    else:
        gist = f"{len(hpas)} HPAs in namespace {namespace}"
    if troubles:
        summary = f"{gist}; {'; '.join(troubles)}"
        return CheckResult(status="problem", summary=summary, output=output, findings=findings)
    return CheckResult(status="ok", summary=gist, output=output, findings=findings)
