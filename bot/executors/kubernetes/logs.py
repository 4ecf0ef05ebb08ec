"""The k8s.logs read: the tail of each pod's container log, redacted, with an error count."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.failure import KubeError, kubelet_unreachable
from bot.executors.kubernetes.params import K8sLogs
from bot.executors.kubernetes.pods import list_pods
from bot.executors.kubernetes.rollouts import read_deployment, selector_of
from bot.redact import redact

MAX_TEXT = 64 * 1024
MAX_PODS = 10
_ERROR_LINE = re.compile(r"error|exception|fatal|killed|refused|timeout", re.IGNORECASE)


def _container(pod: Obj, wanted: str | None, preferred: str) -> str:
    names = [str(c.get("name", "")) for c in (pod.get("spec") or {}).get("containers") or []]
    if wanted:
        return wanted
    return preferred if preferred in names else (names[0] if names else preferred)


async def _pods(kube: KubeClient, action: K8sLogs, target: ServiceBinding) -> tuple[list[Obj], str]:
    namespace = action.namespace or target.namespace
    if action.pod:
        pod = await kube.obj(
            "core",
            "read_namespaced_pod",
            action.pod,
            namespace,
            what=f"pod {action.pod} in namespace {namespace}",
        )
        return [pod], f"pod/{action.pod}"
    if action.deployment:
        deployment = await read_deployment(kube, namespace, action.deployment)
        selector = selector_of(deployment)
        return await list_pods(kube, namespace, selector), f"deployment/{action.deployment}"
    selector = action.selector or target.selector
    return await list_pods(kube, namespace, selector), selector


async def _tail(kube: KubeClient, pod: Obj, action: K8sLogs, target: ServiceBinding) -> str:
    name = str((pod.get("metadata") or {}).get("name", ""))
    namespace = action.namespace or target.namespace
    container = _container(pod, action.container, target.container)
    header = f"==> pod/{name} container {container}{' (previous)' if action.previous else ''} <=="
    node = str((pod.get("spec") or {}).get("nodeName") or "")
    if not node:
        # The API server answers an empty log for it: no kubelet has one.
        return f"{header}\n(not scheduled on a node: no kubelet has its logs)"
    try:
        text = await kube.text(
            "core",
            "read_namespaced_pod_log",
            name,
            namespace,
            container=container,
            tail_lines=action.tail,
            previous=action.previous or None,
            since_seconds=action.since_minutes * 60 if action.since_minutes else None,
            what=f"logs of pod {name} in namespace {namespace}",
        )
    except KubeError as exc:
        unreachable = kubelet_unreachable(str(exc), node)
        if unreachable:
            raise KubeError(f"no logs of pod {name}: {unreachable}", exc.status) from None
        # A pod that never restarted has no previous container; that is a fact, not a failure.
        if action.previous and exc.status in (400, 404):
            return f"{header}\n(no previous container: it has not restarted)"
        if exc.status == 400:
            return f"{header}\n(no logs yet: {exc})"
        raise
    return f"{header}\n{text.rstrip()}"


def _is_log_line(line: str) -> bool:
    return bool(line) and not line.startswith("==> ") and not line.startswith("(")


def _filtered(text: str, pattern: str) -> tuple[str, int]:
    """Headers plus the lines matching `pattern`, as `| grep -i` would keep; and their count."""
    wanted = re.compile(pattern, re.IGNORECASE)
    kept, matched = [], 0
    for line in text.splitlines():
        if not _is_log_line(line):
            kept.append(line)
        elif wanted.search(line):
            kept.append(line)
            matched += 1
    return "\n".join(kept), matched


def field_counts(text: str, field: int) -> list[tuple[str, int]]:
    """`cut -d' ' -fN | sort | uniq -c | sort -rn` over the log lines, most common first."""
    counts = Counter(
        (parts[field - 1] if len(parts) >= field else line)
        for line in text.splitlines()
        if _is_log_line(line)
        for parts in [line.split(" ")]
    )
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


async def read_logs(kube: KubeClient, action: K8sLogs, target: ServiceBinding) -> CheckResult:
    pods, source = await _pods(kube, action, target)
    if not pods:
        return CheckResult(status="problem", summary=f"no pods match {source}")
    shown = pods[:MAX_PODS]
    tails = await asyncio.gather(*(_tail(kube, p, action, target) for p in shown))
    text = redact("\n\n".join(tails))
    matched = None
    if action.match:
        text, matched = _filtered(text, action.match)
    if len(text) > MAX_TEXT:
        text = "(earlier lines cut)\n" + text[-MAX_TEXT:]
    errors = sum(1 for line in text.splitlines() if _is_log_line(line) and _ERROR_LINE.search(line))
    findings = [
        Finding(name="logs.text", value=text, subject=source),
        Finding(name="logs.errors", value=errors, subject=source),
    ]
    more = f" (first {MAX_PODS} of {len(pods)})" if len(pods) > MAX_PODS else ""
    which = "previous " if action.previous else ""
    since = f" of the last {action.since_minutes}m" if action.since_minutes else ""
    summary = f"{which}logs{since} of {len(shown)} pod(s){more} of {source}"
    if matched is not None:
        findings.append(Finding(name="logs.matches", value=matched, subject=source))
        summary += f": {matched} line(s) matching {action.match!r}, {errors} error line(s)"
    else:
        summary += f": {errors} error line(s)"
    output = text
    if action.count_field:
        counts = field_counts(text, action.count_field)
        output = "\n".join(f"{n:>7} {value}" for value, n in counts) or "(no lines)"
        output += f"\n\n{text}"
        if counts:
            findings.append(Finding(name="logs.top_value", value=counts[0][0], subject=source))
            summary += f"; most common field {action.count_field}: {counts[0][0]} ({counts[0][1]})"
    if not any((p.get("spec") or {}).get("nodeName") for p in shown):
        summary = f"no logs of {source}: no pod is scheduled on a node, so no kubelet has any"
    status = "problem" if errors else "ok"
    return CheckResult(status=status, summary=summary, output=output, findings=findings)
