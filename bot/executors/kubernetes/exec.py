"""The k8s.exec read: a playbook's fixed argv run in a pod's container over the exec stream."""

from __future__ import annotations

import json
import re
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import dig, exec_findings
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.failure import KubeError, kubelet_unreachable
from bot.executors.kubernetes.params import K8sExec
from bot.executors.kubernetes.pods import is_ready, list_pods, pod_status
from bot.executors.kubernetes.rollouts import read_deployment, selector_of
from bot.redact import redact

MAX_OUTPUT = 16 * 1024
MAX_FINDING = 4000
# The exit code of a command the runtime could not start, as a shell reports it.
CANNOT_RUN = 126
_HANDSHAKE = re.compile(r"Handshake status (?P<code>\d{3})")
_MESSAGE = re.compile(r'"message":\s*"(?P<message>(?:[^"\\]|\\.)*)"')


def _running(pod: Obj, container: str) -> bool:
    if dig(pod, "status", "phase") != "Running":
        return False
    statuses = dig(pod, "status", "containerStatuses") or []
    return any(s.get("name") == container and "running" in (s.get("state") or {}) for s in statuses)


def _container(pod: Obj, wanted: str | None, preferred: str) -> str:
    names = [str(c.get("name", "")) for c in dig(pod, "spec", "containers") or []]
    if wanted:
        return wanted
    return preferred if preferred in names else (names[0] if names else preferred)


async def _choose(kube: KubeClient, action: K8sExec, target: ServiceBinding) -> tuple[Obj, str]:
    """The pod to run in and its container: the named pod, else a running (ready first) one."""
    namespace = action.namespace or target.namespace
    if action.pod:
        what = f"pod {action.pod} in namespace {namespace}"
        pod = await kube.obj("core", "read_namespaced_pod", action.pod, namespace, what=what)
        container = _container(pod, action.container, target.container)
        names = [str(c.get("name", "")) for c in dig(pod, "spec", "containers") or []]
        if container not in names:
            listed = ", ".join(names) or "none"
            raise KubeError(f"no container {container} in pod {action.pod} (containers: {listed})")
        if not _running(pod, container):
            raise KubeError(f"pod {action.pod} is not running ({pod_status(pod)}): cannot exec")
        return pod, container
    if action.deployment:
        deployment = await read_deployment(kube, namespace, action.deployment)
        selector, source = selector_of(deployment), f"deployment/{action.deployment}"
    elif action.selector:
        selector, source = action.selector, action.selector
    else:
        selector, source = target.selector, f"deployment/{target.deployment}"
    pods = await list_pods(kube, namespace, selector)
    running = [p for p in pods if _running(p, _container(p, action.container, target.container))]
    if not running:
        raise KubeError(f"no running pod of {source} to exec into")
    pod = sorted(running, key=lambda p: not is_ready(p))[0]
    return pod, _container(pod, action.container, target.container)


def _exit_code(status_text: str) -> tuple[int, str]:
    """The exit code in the error channel's Status, and its message when it is not an exit."""
    try:
        status = json.loads(status_text) if status_text else {}
    except ValueError:
        return CANNOT_RUN, status_text.strip()
    if not isinstance(status, dict) or status.get("status") == "Success":
        return 0, ""
    for cause in dig(status, "details", "causes") or []:
        if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
            return int(cause["message"]), ""
    return CANNOT_RUN, str(status.get("message") or "")


def _handshake_failure(exc: ApiException, pod: str) -> KubeError:
    """The API server refused to upgrade the connection: its Status message, one line."""
    reason = str(exc.reason or "")
    code = _HANDSHAKE.search(reason)
    message = _MESSAGE.search(reason)
    detail = message["message"] if message else reason.split(" -+-+- ")[0]
    status = int(code["code"]) if code else None
    return KubeError(f"cannot exec in pod {pod}: {detail}", status)


def _run(
    apis: dict[str, Any], pod: str, namespace: str, container: str, action: K8sExec
) -> tuple[str, str | None]:
    """(stdout and stderr, error-channel Status or None if still running at the timeout)."""
    # stream() swaps the ApiClient's transport while it runs: on the shared client, calls
    # other checks make at the same time would go over the websocket. Use a client of its own.
    api_client = k8s.ApiClient(apis["core"].api_client.configuration)
    try:
        return _stream(k8s.CoreV1Api(api_client), pod, namespace, container, action)
    finally:
        api_client.close()  # type: ignore[no-untyped-call]


def _stream(
    core: Any, pod: str, namespace: str, container: str, action: K8sExec
) -> tuple[str, str | None]:
    try:
        client = stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            container=container,
            command=list(action.command),
            stderr=True,
            stdout=True,
            stdin=False,
            tty=False,
            _preload_content=False,
        )
    except ApiException as exc:
        raise _handshake_failure(exc, pod) from None
    try:
        client.run_forever(timeout=action.timeout_s)
        finished = not client.is_open()
        # read_all() empties every channel: take the status first.
        status = client.read_channel(ERROR_CHANNEL) if finished else None
        return str(client.read_all()).rstrip(), status
    finally:
        client.close()
        # After the server's close frame, close() finds the websocket disconnected and returns
        # without closing its socket; shutdown() closes it whatever the state.
        client.sock.shutdown()


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more)"


async def read_exec(kube: KubeClient, action: K8sExec, target: ServiceBinding) -> CheckResult:
    namespace = action.namespace or target.namespace
    pod, container = await _choose(kube, action, target)
    name = str(dig(pod, "metadata", "name") or "")
    output, status = await kube.blocking(
        lambda apis: _run(apis, name, namespace, container, action),
        verb="exec in",
        what=f"pod {name} in namespace {namespace}",
        # The stream's own timeout ends the read; this bounds connecting as well.
        limit=action.timeout_s + kube.timeout + 1,
    )
    argv = " ".join(action.command)
    subject = f"pod/{name}"
    if status is None:
        output = redact(_capped(output, MAX_OUTPUT))
        return CheckResult(
            status="problem",
            summary=redact(f"{argv} in {subject}: still running after {action.timeout_s:g}s"),
            output=output,
            findings=[Finding(name="exec.output", value=output[:MAX_FINDING], subject=subject)],
        )
    code, why = _exit_code(status)
    unreachable = kubelet_unreachable(why, str(dig(pod, "spec", "nodeName") or ""))
    if unreachable:
        raise KubeError(f"cannot exec in pod {name}: {unreachable}")
    if why:
        output = f"{output.rstrip()}\n{why}".strip()
    output = redact(_capped(output, MAX_OUTPUT))
    first = next((line.strip() for line in output.splitlines() if line.strip()), "no output")
    findings, missing = exec_findings(code, output[:MAX_FINDING], subject)
    summary = redact(f"{argv} in {subject} ({container}): exit {code}: {first[:200]}")
    if missing:
        summary = redact(
            f"{missing} is not in the image of {subject} ({container}): cannot run {argv} there"
        )
    return CheckResult(
        status="ok" if code == 0 else "problem", summary=summary, output=output, findings=findings
    )
