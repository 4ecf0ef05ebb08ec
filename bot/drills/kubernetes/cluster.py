"""The sandbox cluster's state: stored objects, pods, events, and what each pod is doing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot.drills.kubernetes.health import PodState, evaluate, memory_bytes
from bot.drills.kubernetes.objects import Obj, endpoints
from bot.drills.kubernetes.pods import PodRecord, render_pod
from bot.drills.kubernetes.scenario import Scenario


class Cluster:
    """Objects by resource, plus pods whose status is computed lazily from timestamps."""

    def __init__(
        self, scenario: Scenario, ready_delay: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.scenario = scenario
        self.ready_delay = ready_delay
        self.clock = clock
        # When the drill began: pods created since are the responder's doing.
        self.started = clock()
        self.store: dict[str, dict[tuple[str, str], Obj]] = {}
        self.pods: dict[tuple[str, str], PodRecord] = {}
        self.events: list[Obj] = []
        self.version = 1
        self._ips = 0
        self._lock = threading.RLock()
        self.node_memory = memory_bytes(scenario.nodes.memory) or 0

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock:
            yield

    def put(self, resource: str, obj: Obj) -> Obj:
        """Store an object, stamping a fresh resourceVersion."""
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        self.store.setdefault(resource, {})[key] = obj
        return obj

    def stored(self, resource: str, ns: str | None) -> list[Obj]:
        return [
            o for (n, _), o in self.store.get(resource, {}).items() if ns is None or n in (ns, "")
        ]

    def find(self, resource: str, ns: str, name: str) -> Obj | None:
        return self.store.get(resource, {}).get((ns, name)) or self.store.get(resource, {}).get(
            ("", name)
        )

    def next_ip(self, node_index: int) -> str:
        self._ips += 1
        return f"10.244.{node_index}.{10 + self._ips % 240}"

    def add_pod(self, pod: PodRecord) -> None:
        self.version += 1
        pod.metadata["resourceVersion"] = str(self.version)
        self.pods[(pod.namespace, pod.name)] = pod

    def record_event(self, event: Obj) -> None:
        self.events.append(event)

    # --- what pods are doing ---------------------------------------------------------

    def memory_need(self, pod: PodRecord) -> int:
        """Bytes the pod's container needs: its image's, plus its share of the service's load."""
        profile = self.scenario.profile(pod.container["image"])
        need = memory_bytes(profile.memory) or 0
        load = memory_bytes(profile.load_memory)
        if load and pod.role == "app":
            spec = self.scenario.service
            found = self.find("deployments", spec.namespace, spec.name) or {}
            need += load // max(1, int(found.get("spec", {}).get("replicas") or 1))
        return need

    def faulty(self, pod: PodRecord) -> bool:
        """Whether the scenario's fault still afflicts this pod of the service."""
        fault = self.scenario.service.fault
        if fault is None or pod.role != "app":
            return False
        if fault.cured_by == "restart":
            return pod.created < self.started
        return not all(b.holds(pod.config.get(k)) for k, b in fault.config.items())

    def pod_state(self, pod: PodRecord) -> PodState:
        state = self._running_state(pod)
        fault = self.scenario.service.fault
        if state.phase == "ready" and fault is not None and fault.unready and self.faulty(pod):
            return PodState("unready", message="")
        return state

    def load_factor(self) -> float:
        """Traffic per ready pod of the service, relative to what one serves comfortably."""
        spec = self.scenario.service
        ready = [p for p in self.selected(spec.namespace, {"app": spec.name})
                 if self._running_state(p).phase == "ready"]  # fmt: skip
        return spec.load * spec.replicas / max(1, len(ready))

    def _running_state(self, pod: PodRecord) -> PodState:
        profile = self.scenario.profile(pod.container["image"])
        down = [] if pod.role != "app" else self.down_dependencies()
        return evaluate(
            pod.container,
            image_memory=self.memory_need(pod),
            crash_log=pod.crash_log or profile.crash_log,
            down=down,
            pull_fails=profile.pull == "fail",
            node_memory=self.node_memory,
            node_count=len(self.scenario.nodes.names),
            age=self.clock() - pod.created,
            ready_delay=self.ready_delay,
        )

    def render(self, pod: PodRecord) -> Obj:
        return render_pod(pod, self.pod_state(pod), self.ready_delay, self.clock())

    def pods_in(self, ns: str | None) -> list[PodRecord]:
        return [p for p in self.pods.values() if ns is None or p.namespace == ns]

    def selected(self, ns: str, selector: dict[str, str]) -> list[PodRecord]:
        items = selector.items()
        return [
            p for p in self.pods_in(ns) if selector and all(p.labels.get(k) == v for k, v in items)
        ]

    def dependency_up(self, name: str) -> bool:
        pod = self.pods.get((self.scenario.service.namespace, f"{name}-0"))
        return pod is not None and self.pod_state(pod).phase == "ready"

    def down_dependencies(self) -> list[str]:
        deps = self.scenario.dependencies.items()
        return [n for n, d in deps if d.required and not self.dependency_up(n)]

    # --- derived objects -------------------------------------------------------------

    def endpoints_of(self, svc: Obj) -> Obj:
        ns = svc["metadata"]["namespace"]
        members = self.selected(ns, svc["spec"].get("selector") or {})
        pairs = [(self.render(p), self.pod_state(p).phase == "ready") for p in members]
        return endpoints(svc, sorted(pairs, key=lambda pair: pair[0]["metadata"]["name"]))

    def ready_endpoints(self, service: str) -> int:
        svc = self.find("services", self.scenario.service.namespace, service)
        if svc is None:
            return 0
        subsets = self.endpoints_of(svc)["subsets"]
        return sum(len(s.get("addresses", [])) for s in subsets)

    def service_health(self, service: str) -> tuple[bool, dict[str, str]]:
        """(healthy, dependency states) as the service's own health endpoint would say."""
        deps = {
            name: "up" if self.dependency_up(name) else "down"
            for name, dep in self.scenario.dependencies.items()
            if dep.required
        }
        healthy = self.ready_endpoints(service) > 0 and all(v == "up" for v in deps.values())
        return healthy, deps
