"""Reads about pods: status with findings, describe, and the events in a namespace."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.describe import age, describe_pod, event_time, table
from bot.executors.kubernetes.owners import owner_findings
from bot.executors.kubernetes.params import K8sDescribePods, K8sEvents, K8sPods
from bot.redact import redact


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _container_statuses(pod: Obj) -> list[Obj]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def waiting_reason(pod: Obj) -> str:
    for cs in _container_statuses(pod):
        reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        if reason:
            return str(reason)
    return ""


def last_termination_reason(pod: Obj) -> str:
    for cs in _container_statuses(pod):
        reason = ((cs.get("lastState") or {}).get("terminated") or {}).get("reason")
        if reason:
            return str(reason)
    return ""


def restarts(pod: Obj) -> int:
    return max((int(cs.get("restartCount") or 0) for cs in _container_statuses(pod)), default=0)


def _unschedulable(pod: Obj) -> str:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return str(c.get("reason") or "Unschedulable")
    return ""


def pod_status(pod: Obj) -> str:
    """The STATUS column of `kubectl get pods`."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for cs in _container_statuses(pod):
        terminated = (cs.get("state") or {}).get("terminated") or {}
        if terminated.get("reason"):
            return str(terminated["reason"])
    return waiting_reason(pod) or str((pod.get("status") or {}).get("phase") or "Unknown")


def pod_findings(pod: Obj) -> list[Finding]:
    """The per-pod findings playbook rules match on."""
    subject = f"pod/{(pod.get('metadata') or {}).get('name', '')}"
    phase = str((pod.get("status") or {}).get("phase") or "Unknown")
    facts: list[tuple[str, str | int | bool]] = [
        ("pod.phase", phase),
        ("pod.ready", is_ready(pod)),
        ("pod.restarts", restarts(pod)),
    ]
    if waiting_reason(pod):
        facts.append(("pod.waiting_reason", waiting_reason(pod)))
    if last_termination_reason(pod):
        facts.append(("pod.last_termination_reason", last_termination_reason(pod)))
    return [Finding(name=name, value=value, subject=subject) for name, value in facts]


def _not_ready_gist(pods: list[Obj]) -> str:
    """'3 CrashLoopBackOff (last terminated: OOMKilled)' for the pods that are not ready."""
    reasons = Counter(
        waiting_reason(p)
        or _unschedulable(p)
        or pod_status(p).replace("Running", "Running unready")
        for p in pods
        if not is_ready(p)
    )
    gist = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
    last = sorted({last_termination_reason(p) for p in pods if not is_ready(p)} - {""})
    return gist + (f" (last terminated: {', '.join(last)})" if last else "")


def _pod_row(pod: Obj) -> list[object]:
    statuses = _container_statuses(pod)
    total = len((pod.get("spec") or {}).get("containers") or []) or len(statuses)
    ready = sum(1 for cs in statuses if cs.get("ready"))
    meta = pod.get("metadata") or {}
    node = (pod.get("spec") or {}).get("nodeName") or "<none>"
    created = age(meta.get("creationTimestamp"))
    return [meta.get("name", ""), f"{ready}/{total}", pod_status(pod), restarts(pod), created, node]


async def list_pods(kube: KubeClient, namespace: str, selector: str) -> list[Obj]:
    return await kube.items(
        "core",
        "list_namespaced_pod",
        namespace,
        label_selector=selector or None,
        what=f"pods in namespace {namespace}",
    )


async def read_pods(kube: KubeClient, action: K8sPods, target: ServiceBinding) -> CheckResult:
    namespace = action.namespace or target.namespace
    selector = action.selector or target.selector
    pods = await list_pods(kube, namespace, selector)
    findings = [f for pod in pods for f in pod_findings(pod)]
    findings += await owner_findings(kube, namespace, pods)
    ready = sum(1 for pod in pods if is_ready(pod))
    findings += [
        Finding(name="pods.total", value=len(pods)),
        Finding(name="pods.ready", value=ready),
    ]
    if not pods:
        return CheckResult(
            status="problem",
            summary=f"no pods match {selector} in namespace {namespace}",
            findings=findings,
        )
    output = table(
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"], [_pod_row(p) for p in pods]
    )
    if ready == len(pods):
        summary, status = f"{ready}/{len(pods)} pods ready ({selector})", "ok"
    else:
        summary, status = f"{ready}/{len(pods)} pods ready: {_not_ready_gist(pods)}", "problem"
    return CheckResult(status=status, summary=summary, output=redact(output), findings=findings)


async def pod_events(kube: KubeClient, namespace: str, pod: str) -> list[Obj]:
    events = await kube.items(
        "core",
        "list_namespaced_event",
        namespace,
        field_selector=f"involvedObject.name={pod}",
        what=f"events in namespace {namespace}",
    )
    # Filtered again because not every server honours field selectors on events.
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == pod]
    return sorted(mine, key=event_time)


async def read_describe_pods(
    kube: KubeClient, action: K8sDescribePods, target: ServiceBinding
) -> CheckResult:
    namespace = action.namespace or target.namespace
    if action.pod:
        pods = [
            await kube.obj(
                "core",
                "read_namespaced_pod",
                action.pod,
                namespace,
                what=f"pod {action.pod} in namespace {namespace}",
            )
        ]
    else:
        selector = action.selector or target.selector
        pods = [p for p in await list_pods(kube, namespace, selector) if not is_ready(p)]
        if not pods:
            return CheckResult(status="ok", summary=f"every pod of {selector} is ready")
    names = [str((p.get("metadata") or {}).get("name", "")) for p in pods]
    events = await asyncio.gather(*(pod_events(kube, namespace, name) for name in names))
    findings = [f for pod in pods for f in pod_findings(pod)]
    findings += await owner_findings(kube, namespace, pods)
    findings += [
        Finding(name="event.reason", value=str(e.get("reason") or ""), subject=f"pod/{name}")
        for name, pod_evs in zip(names, events, strict=True)
        for e in pod_evs
    ]
    output = "\n\n".join(describe_pod(p, e) for p, e in zip(pods, events, strict=True))
    not_ready = [p for p in pods if not is_ready(p)]
    if not_ready:
        summary = f"{len(not_ready)} pod(s) not ready: {_not_ready_gist(pods)}"
        return CheckResult(status="problem", summary=summary, output=output, findings=findings)
    return CheckResult(
        status="ok", summary=f"{', '.join(names)} ready", output=output, findings=findings
    )


async def read_events(kube: KubeClient, action: K8sEvents, target: ServiceBinding) -> CheckResult:
    """Events newest last; `involving` keeps those of the object and of objects named after it."""
    namespace = action.namespace or target.namespace
    events = await kube.items(
        "core", "list_namespaced_event", namespace, what=f"events in namespace {namespace}"
    )
    if action.involving:
        name = action.involving
        involved = (str((e.get("involvedObject") or {}).get("name", "")) for e in events)
        events = [
            e
            for e, obj in zip(events, involved, strict=True)
            if obj == name or obj.startswith(f"{name}-")
        ]
    events = sorted(events, key=event_time)[-action.limit :]
    findings: list[Finding] = []
    rows = []
    for e in events:
        obj = e.get("involvedObject") or {}
        subject = f"{str(obj.get('kind', '')).lower()}/{obj.get('name', '')}"
        message = redact(" ".join(str(e.get("message") or "").split()))
        findings.append(
            Finding(name="event.reason", value=str(e.get("reason") or ""), subject=subject)
        )
        findings.append(Finding(name="event.message", value=message, subject=subject))
        rows.append([age(event_time(e)), e.get("type", ""), e.get("reason", ""), subject, message])
    where = f" for {action.involving}" if action.involving else ""
    if not events:
        return CheckResult(status="ok", summary=f"no events in namespace {namespace}{where}")
    output = table(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], rows)
    warnings = [e for e in events if e.get("type") == "Warning"]
    if warnings:
        reasons = ", ".join(sorted({str(e.get("reason") or "") for e in warnings}))
        summary = f"{len(warnings)} warning event(s){where}: {reasons}"
        return CheckResult(status="problem", summary=summary, output=output, findings=findings)
    summary = f"{len(events)} event(s){where}, no warnings"
    return CheckResult(status="ok", summary=summary, output=output, findings=findings)
