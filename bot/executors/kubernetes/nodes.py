"""Reads about capacity: nodes, node detail, and CPU/memory usage from metrics.k8s.io."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import dig
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.describe import age, describe_node, table
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.params import K8sDescribeNode, K8sNodes, K8sTopNodes, K8sTopPods
from bot.executors.kubernetes.pods import list_pods
from bot.executors.units import mebibytes, millicores, percent

PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
HOT_PERCENT = 90
NO_METRICS_API = (
    "metrics API not installed: the cluster does not serve metrics.k8s.io (no metrics-server)"
)


def _name(obj: Obj) -> str:
    return str(dig(obj, "metadata", "name") or "")


def node_ready(node: Obj) -> bool:
    conditions = dig(node, "status", "conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def node_pressures(node: Obj) -> list[str]:
    conditions = dig(node, "status", "conditions") or []
    return [
        str(c["type"])
        for c in conditions
        if c.get("type") in PRESSURES and c.get("status") == "True"
    ]


def _node_findings(node: Obj) -> list[Finding]:
    subject = f"node/{_name(node)}"
    findings = [Finding(name="node.ready", value=node_ready(node), subject=subject)]
    findings += [
        Finding(name="node.pressure", value=p, subject=subject) for p in node_pressures(node)
    ]
    return findings


def _node_result(nodes: list[Obj], output: str) -> CheckResult:
    findings = [f for node in nodes for f in _node_findings(node)]
    troubled = [
        f"{_name(n)} " + ("NotReady" if not node_ready(n) else ",".join(node_pressures(n)))
        for n in nodes
        if not node_ready(n) or node_pressures(n)
    ]
    ready = sum(1 for n in nodes if node_ready(n))
    summary = f"{ready}/{len(nodes)} nodes ready"
    if troubled:
        summary += ": " + "; ".join(troubled)
        return CheckResult(status="problem", summary=summary, output=output, findings=findings)
    return CheckResult(status="ok", summary=summary, output=output, findings=findings)


async def read_nodes(kube: KubeClient, action: K8sNodes, target: ServiceBinding) -> CheckResult:
    nodes = await kube.items("core", "list_node", what="nodes")
    rows = []
    for node in nodes:
        status = "Ready" if node_ready(node) else "NotReady"
        if dig(node, "spec", "unschedulable"):
            status += ",SchedulingDisabled"
        labels = dig(node, "metadata", "labels") or {}
        roles = sorted(
            k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")
        )
        rows.append(
            [
                _name(node),
                status,
                ",".join(roles) or "<none>",
                age(dig(node, "metadata", "creationTimestamp")),
                dig(node, "status", "nodeInfo", "kubeletVersion") or "",
                ",".join(node_pressures(node)) or "-",
            ]
        )
    if not nodes:
        return CheckResult(status="problem", summary="the cluster lists no nodes")
    output = table(["NAME", "STATUS", "ROLES", "AGE", "VERSION", "PRESSURE"], rows)
    return _node_result(nodes, output)


async def read_describe_node(
    kube: KubeClient, action: K8sDescribeNode, target: ServiceBinding
) -> CheckResult:
    if action.node:
        names = [action.node]
    else:
        namespace = action.namespace or target.namespace
        selector = action.selector or target.selector
        pods = await list_pods(kube, namespace, selector)
        names = sorted(
            {str(dig(p, "spec", "nodeName")) for p in pods if dig(p, "spec", "nodeName")}
        )
        if not names:
            return CheckResult(
                status="problem", summary=f"no pod of {selector} is scheduled on a node"
            )
    nodes = await asyncio.gather(
        *(kube.obj("core", "read_node", name, what=f"node {name}") for name in names)
    )
    return _node_result(list(nodes), "\n\n".join(describe_node(n) for n in nodes))


async def _metrics(
    kube: KubeClient, method: str, *args: Any, what: str, **kwargs: Any
) -> list[Obj]:
    """metrics.k8s.io items; a server without that API group answers 404 to any of its paths."""
    try:
        return await kube.items(
            "custom", method, "metrics.k8s.io", "v1beta1", *args, what=what, **kwargs
        )
    except KubeError as exc:
        if exc.status == 404:
            raise KubeError(NO_METRICS_API, 404) from None
        raise


def _metrics_usage(item: Obj) -> tuple[float | None, float | None]:
    """(millicores, MiB) of a node metrics item, or summed over a pod's containers."""
    usages = [c.get("usage") or {} for c in item.get("containers") or []] or [
        item.get("usage") or {}
    ]
    cpu = [millicores(u.get("cpu")) for u in usages]
    memory = [mebibytes(u.get("memory")) for u in usages]
    total_cpu = None if None in cpu else sum(c for c in cpu if c is not None)
    total_memory = None if None in memory else sum(m for m in memory if m is not None)
    return total_cpu, total_memory


def _hot(findings: list[Finding], names: tuple[str, ...]) -> list[str]:
    return [
        f"{f.subject} {f.name.split('.')[1].split('_')[0]} {f.value}%"
        for f in findings
        if f.name in names and isinstance(f.value, int) and f.value > HOT_PERCENT
    ]


async def read_top_nodes(
    kube: KubeClient, action: K8sTopNodes, target: ServiceBinding
) -> CheckResult:
    metrics, nodes = await asyncio.gather(
        _metrics(kube, "list_cluster_custom_object", "nodes", what="node metrics (metrics.k8s.io)"),
        kube.items("core", "list_node", what="nodes"),
    )
    allocatable = {_name(n): dig(n, "status", "allocatable") or {} for n in nodes}
    rows, findings = [], []
    for item in metrics:
        name, (cpu, memory) = _name(item), _metrics_usage(item)
        cpu_pct = percent(cpu, millicores(allocatable.get(name, {}).get("cpu")))
        mem_pct = percent(memory, mebibytes(allocatable.get(name, {}).get("memory")))
        for key, value in (("node.cpu_percent", cpu_pct), ("node.memory_percent", mem_pct)):
            if value is not None:
                findings.append(Finding(name=key, value=value, subject=f"node/{name}"))
        rows.append(_usage_row(name, cpu, cpu_pct, memory, mem_pct))
    output = table(["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"], rows)
    hot = _hot(findings, ("node.cpu_percent", "node.memory_percent"))
    if hot:
        return CheckResult(
            status="problem", summary="; ".join(hot), output=output, findings=findings
        )
    return CheckResult(
        status="ok",
        summary=f"{len(metrics)} node(s), none above {HOT_PERCENT}%",
        output=output,
        findings=findings,
    )


def _usage_row(
    name: str, cpu: float | None, cpu_pct: int | None, memory: float | None, mem_pct: int | None
) -> list[str]:
    def shown(value: float | None, unit: str) -> str:
        return "<unknown>" if value is None else f"{round(value)}{unit}"

    return [name, shown(cpu, "m"), shown(cpu_pct, "%"), shown(memory, "Mi"), shown(mem_pct, "%")]


def _memory_limit(pod: Obj) -> float | None:
    limits = [
        mebibytes(dig(c, "resources", "limits", "memory"))
        for c in dig(pod, "spec", "containers") or []
    ]
    return None if not limits or None in limits else sum(x for x in limits if x is not None)


async def read_top_pods(
    kube: KubeClient, action: K8sTopPods, target: ServiceBinding
) -> CheckResult:
    namespace = action.namespace or target.namespace
    selector = action.selector or target.selector
    metrics, pods = await asyncio.gather(
        _metrics(
            kube,
            "list_namespaced_custom_object",
            namespace,
            "pods",
            label_selector=selector or None,
            what=f"pod metrics (metrics.k8s.io) in namespace {namespace}",
        ),
        list_pods(kube, namespace, selector),
    )
    limits = {_name(p): _memory_limit(p) for p in pods}
    rows, findings = [], []
    for item in metrics:
        name, (cpu, memory) = _name(item), _metrics_usage(item)
        mem_pct = percent(memory, limits.get(name))
        subject = f"pod/{name}"
        if cpu is not None:
            findings.append(Finding(name="pod.cpu_millicores", value=round(cpu), subject=subject))
        if memory is not None:
            findings.append(Finding(name="pod.memory_mi", value=round(memory), subject=subject))
        if mem_pct is not None:
            findings.append(Finding(name="pod.memory_percent", value=mem_pct, subject=subject))
        rows.append(_usage_row(name, cpu, None, memory, mem_pct))
    rows = [[r[0], r[1], r[3], r[4]] for r in rows]
    output = table(["NAME", "CPU(cores)", "MEMORY(bytes)", "MEMORY% OF LIMIT"], rows)
    hot = _hot(findings, ("pod.memory_percent",))
    if hot:
        return CheckResult(
            status="problem", summary="; ".join(hot), output=output, findings=findings
        )
    if not metrics:
        return CheckResult(status="ok", summary=f"no pod metrics for {selector} in {namespace}")
    summary = f"{len(metrics)} pod(s) of {selector}, none above {HOT_PERCENT}% of its memory limit"
    return CheckResult(status="ok", summary=summary, output=output, findings=findings)
