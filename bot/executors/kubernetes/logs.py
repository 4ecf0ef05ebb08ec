"""The k8s.logs read: the tail of each pod's container log, redacted, with an error count."""

from __future__ import annotations

import asyncio
import re

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.failure import KubeError
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
    try:
        text = await kube.text(
            "core",
            "read_namespaced_pod_log",
            name,
            namespace,
            container=container,
            tail_lines=action.tail,
            previous=action.previous or None,
            what=f"logs of pod {name} in namespace {namespace}",
        )
    except KubeError as exc:
        # A pod that never restarted has no previous container; that is a fact, not a failure.
        if action.previous and exc.status in (400, 404):
            return f"{header}\n(no previous container: it has not restarted)"
        if exc.status == 400:
            return f"{header}\n(no logs yet: {exc})"
        raise
    return f"{header}\n{text.rstrip()}"


async def read_logs(kube: KubeClient, action: K8sLogs, target: ServiceBinding) -> CheckResult:
    pods, source = await _pods(kube, action, target)
    if not pods:
        return CheckResult(status="problem", summary=f"no pods match {source}")
    shown = pods[:MAX_PODS]
    tails = await asyncio.gather(*(_tail(kube, p, action, target) for p in shown))
    text = redact("\n\n".join(tails))
    if len(text) > MAX_TEXT:
        text = "(earlier lines cut)\n" + text[-MAX_TEXT:]
    errors = sum(
        1 for line in text.splitlines() if not line.startswith("==> ") and _ERROR_LINE.search(line)
    )
    findings = [
        Finding(name="logs.text", value=text, subject=source),
        Finding(name="logs.errors", value=errors, subject=source),
    ]
    more = f" (first {MAX_PODS} of {len(pods)})" if len(pods) > MAX_PODS else ""
    which = "previous " if action.previous else ""
    summary = f"{which}logs of {len(shown)} pod(s){more} of {source}: {errors} error line(s)"
    status = "problem" if errors else "ok"
    return CheckResult(status=status, summary=summary, output=text, findings=findings)
