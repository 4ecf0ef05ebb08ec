"""What a cluster shows about its pods: events, container logs and metrics."""

from __future__ import annotations

import time

from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.health import PodState, memory_bytes
from bot.drills.kubernetes.objects import Obj, timestamp
from bot.drills.kubernetes.pods import PodRecord, pull_failure

_EVENT_TTL = 3600.0
_WAITING = {"creating": "ContainerCreating", "pullfailed": "trying and failing to pull image"}
_NOT_RUNNING = ("creating", "unschedulable", "pullfailed", "crashing")


class LogUnavailable(Exception):
    """The container has no such log (not started yet, or no previous instance)."""


def _event(pod: PodRecord, reason: str, message: str, kind: str, first: float, last: float,
           count: int = 1, source: str = "kubelet") -> Obj:  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{pod.name}.{reason.lower()}",
            "namespace": pod.namespace,
            "creationTimestamp": timestamp(first),
        },
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": pod.name,
            "namespace": pod.namespace,
            "uid": pod.metadata["uid"],
            "fieldPath": f"spec.containers{{{pod.container['name']}}}",
        },
        "reason": reason,
        "message": message,
        "type": kind,
        "count": count,
        "firstTimestamp": timestamp(first),
        "lastTimestamp": timestamp(last),
        "source": {"component": source, "host": pod.node},
    }


def pod_events(cluster: Cluster, pod: PodRecord) -> list[Obj]:
    """The events the scheduler and kubelet would have emitted for this pod so far."""
    state, now, start = cluster.pod_state(pod), cluster.clock(), pod.created
    name, image = pod.container["name"], pod.container["image"]
    if state.phase == "unschedulable":
        return [_event(pod, "FailedScheduling", state.message, "Warning", start, now,
                       max(1, int((now - start) // 60)), "default-scheduler")]  # fmt: skip
    where = f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node}"
    found = [_event(pod, "Scheduled", where, "Normal", start, start, 1, "default-scheduler")]
    if state.phase == "creating":
        return found
    ready_at, runs = start + cluster.ready_delay, state.restarts + 1
    if state.phase == "pullfailed":
        tries = max(1, int((now - ready_at) // 60) + 1)
        failed = pull_failure(image, 0.0)["message"]
        return [*found,
            _event(pod, "Pulling", f'Pulling image "{image}"', "Normal", ready_at, now, tries),
            _event(pod, "Failed", f"Failed to pull image \"{image}\": {failed}", "Warning",
                   ready_at, now, tries),
            _event(pod, "Failed", "Error: ErrImagePull", "Warning", ready_at, now, tries),
            _event(pod, "BackOff", f'Back-off pulling image "{image}"', "Normal", ready_at, now,
                   tries),
        ]  # fmt: skip
    last = now if state.restarts else ready_at
    found += [
        _event(pod, "Pulled", f'Container image "{image}" already present on machine',
               "Normal", ready_at, last, runs),
        _event(pod, "Created", f"Created container {name}", "Normal", ready_at, last, runs),
        _event(pod, "Started", f"Started container {name}", "Normal", ready_at, last, runs),
    ]  # fmt: skip
    if state.phase == "oomkilled":
        limit = pod.container["resources"]["limits"]["memory"]
        kill = f"Memory cgroup out of memory: Killed process 1 ({name}) limit {limit}"
        found.append(_event(pod, "OOMKilling", kill, "Warning", ready_at, now, state.restarts))
    if state.phase in ("oomkilled", "crashing"):
        back_off = f"Back-off restarting failed container {name} in pod {pod.name}"
        found.append(_event(pod, "BackOff", back_off, "Warning", ready_at, now, state.restarts))
    if state.phase == "unready":
        probe = "Readiness probe failed: HTTP probe failed with statuscode: 503"
        found.append(_event(pod, "Unhealthy", probe, "Warning", ready_at, now,
                            max(1, int((now - ready_at) // 10))))  # fmt: skip
    return found


def events(cluster: Cluster, ns: str | None) -> list[Obj]:
    """Recorded plus pod-derived events from the last hour, oldest first."""
    horizon = timestamp(cluster.clock() - _EVENT_TTL)
    found = [e for e in cluster.events if ns is None or e["metadata"]["namespace"] == ns]
    for pod in cluster.pods_in(ns):
        found += pod_events(cluster, pod)
    recent = [e for e in found if e["lastTimestamp"] >= horizon]
    return sorted(recent, key=lambda e: e["lastTimestamp"])


def _lines(start: float, texts: list[str]) -> list[str]:
    return [f"{timestamp(start + i * 0.4)} {text}" for i, text in enumerate(texts)]


def _app_log(cluster: Cluster, pod: PodRecord, state: PodState, start: float) -> list[str]:
    image = pod.container["image"]
    boot = [f"INFO starting {image} on :{cluster.scenario.service.port}", "INFO loading config"]
    if state.phase == "oomkilled":
        need = f"{cluster.memory_need(pod) // 2**20}Mi"
        return _lines(start, [*boot, f"INFO warming cache (expected heap {need})",
                              "INFO cache warm-up 61%", "Killed"])  # fmt: skip
    fault = cluster.scenario.service.fault
    if fault is not None and cluster.faulty(pod):
        return _lines(start, [*boot, *fault.log * 3])
    if state.phase == "unready":
        names = ["database" if n == "postgres" else n for n in state.message.split(", ")]
        failures = [f"ERROR could not connect to {n}: connection refused" for n in names]
        return _lines(start, [*boot, *failures * 5, "WARN readiness: dependencies unavailable"])
    served = ['INFO "GET /health HTTP/1.1" 200 2ms'] * 5
    return _lines(start, [*boot, "INFO connected to postgres and redis", *served])


def _dependency_log(cluster: Cluster, pod: PodRecord, start: float) -> list[str]:
    """What a running database, cache or upstream prints once it is up."""
    name, image = pod.labels.get("app", ""), pod.container["image"]
    port = cluster.scenario.dependencies[name].port if name in cluster.scenario.dependencies else 0
    if image.startswith("redis"):
        version = image.partition(":")[2] or "7.2"
        texts = [f"1:C oO0OoO0OoO0Oo Redis is starting, version={version}",
                 f"1:M * Running mode=standalone, port={port}.",
                 "1:M * Server initialized", "1:M * Ready to accept connections tcp"]  # fmt: skip
    elif image.startswith("postgres"):
        texts = [f"LOG:  listening on IPv4 address \"0.0.0.0\", port {port}",
                 "LOG:  database system is ready to accept connections"]  # fmt: skip
    else:
        texts = [f"INFO starting {image} on :{port}", "INFO ready"]
    return _lines(start, texts)


def _ingress_log(cluster: Cluster, start: float) -> list[str]:
    svc = cluster.scenario.service
    up = cluster.ready_endpoints(svc.name) > 0
    upstream = f"[{svc.namespace}-{svc.name}-80]"
    texts = []
    for i in range(10):
        status = 200 if up else (503 if i % 2 else 502)
        texts.append(f'10.0.0.{20 + i} - - "GET /v1/orders HTTP/1.1" {status} 146 "-" '
                     f'"curl/8.5.0" 82 0.00{i} {upstream} [] - - - - {status}')  # fmt: skip
        if not up and i % 2:
            texts.append(f'[error] upstream "{svc.name}" has no ready endpoints while connecting '
                         f'to upstream, host: "{svc.host}"')  # fmt: skip
    return _lines(start, texts)


def logs(cluster: Cluster, pod: PodRecord, previous: bool, container: str | None) -> list[str]:
    """A container's log lines, current or of its previous (terminated) instance."""
    name = pod.container["name"]
    if container not in (None, name):
        raise LogUnavailable(f"container {container} is not valid for pod {pod.name}")
    state = cluster.pod_state(pod)
    if state.phase in ("creating", "unschedulable", "pullfailed"):
        reason = _WAITING.get(state.phase, "Pending")
        raise LogUnavailable(
            f'container "{name}" in pod "{pod.name}" is waiting to start: {reason}'
        )
    if previous and state.restarts == 0:
        raise LogUnavailable(
            f'previous terminated container "{name}" in pod "{pod.name}" not found'
        )
    start = cluster.clock() - (60.0 if previous else 20.0)
    if pod.role == "ingress":
        return _ingress_log(cluster, start)
    if pod.role == "dependency" and state.phase != "crashing":
        return _dependency_log(cluster, pod, start)
    if state.phase == "crashing":
        return _lines(
            start, pod.crash_log or cluster.scenario.profile(pod.container["image"]).crash_log
        )
    return _app_log(cluster, pod, state, start)


def _usage(cluster: Cluster, pod: PodRecord, state: PodState) -> tuple[int, int]:
    """(nanocores, bytes) a running container uses."""
    need = cluster.memory_need(pod)
    if state.phase == "oomkilled":
        limit = memory_bytes(pod.container["resources"]["limits"]["memory"]) or need
        return 950_000_000, int(limit * 0.97)
    if state.phase == "unready":
        return 15_000_000, int(need * 0.5)
    if pod.role != "app":
        return 120_000_000, int(need * 0.85)
    # Each request in flight holds CPU and memory: both grow with the load per pod.
    load = cluster.load_factor()
    return int(120_000_000 * load), int(need * (0.5 + 0.35 * load))


def pod_metrics(cluster: Cluster, ns: str | None) -> list[Obj]:
    """metrics.k8s.io PodMetrics for every pod with a running container."""
    found = []
    for pod in cluster.pods_in(ns):
        state = cluster.pod_state(pod)
        if state.phase in _NOT_RUNNING:
            continue
        cpu, mem = _usage(cluster, pod, state)
        found.append({
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": pod.name, "namespace": pod.namespace,
                         "labels": dict(pod.labels), "creationTimestamp": timestamp(time.time())},
            "timestamp": timestamp(cluster.clock()),
            "window": "15s",
            "containers": [{"name": pod.container["name"],
                            "usage": {"cpu": f"{cpu}n", "memory": f"{mem // 1024}Ki"}}],
        })  # fmt: skip
    return found


def node_metrics(cluster: Cluster) -> list[Obj]:
    """metrics.k8s.io NodeMetrics: a base load plus the usage of each node's pods."""
    found = []
    for name in cluster.scenario.nodes.names:
        cpu, mem = 350_000_000, 1_200 * 2**20
        for pod in cluster.pods_in(None):
            state = cluster.pod_state(pod)
            if pod.node == name and state.phase not in _NOT_RUNNING:
                pod_cpu, pod_mem = _usage(cluster, pod, state)
                cpu, mem = cpu + pod_cpu, mem + pod_mem
        found.append({
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name},
                         "creationTimestamp": timestamp(time.time())},
            "timestamp": timestamp(cluster.clock()),
            "window": "20s",
            "usage": {"cpu": f"{cpu}n", "memory": f"{mem // 1024}Ki"},
        })  # fmt: skip
    return found
