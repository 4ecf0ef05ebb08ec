"""The sandbox Docker host: its containers and the state machine they follow."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.drills.docker.scenario import ContainerSpec, ExecReply, Scenario
from bot.drills.kubernetes.health import memory_bytes

Status = Literal["created", "running", "exited"]
STDOUT, STDERR = 1, 2
# What an unlimited container may use: the sandbox host's memory.
HOST_MEMORY = 8 * 2**30
_PROJECT, _SERVICE, _NUMBER = (
    "com.docker.compose.project",
    "com.docker.compose.service",
    "com.docker.compose.container-number",
)


class HostError(Exception):
    """A request Docker refuses; `code` is the HTTP status it answers with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class LogLine:
    at: float
    stream: int
    text: str


@dataclass
class Container:
    """One container; its status moves only through `Host`'s transitions."""

    id: str
    name: str
    image: str
    env: dict[str, str]
    labels: dict[str, str]
    memory: int
    memory_swap: int
    publish: str | None
    host_port: int | None
    restart_policy: str
    healthcheck: bool
    created: float
    memory_used: int
    cpu_percent: float
    exec: dict[str, ExecReply]
    status: Status = "created"
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    oom_killed: bool = False
    restart_count: int = 0
    logs: list[LogLine] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def service(self) -> str:
        return self.labels.get(_SERVICE, "")


def container_id(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _line(at: float, raw: str) -> LogLine:
    if raw.startswith("stderr: "):
        return LogLine(at, STDERR, raw.removeprefix("stderr: "))
    return LogLine(at, STDOUT, raw)


class Host:
    """Containers by name; an under-sized container dies lazily, when next looked at."""

    def __init__(
        self,
        scenario: Scenario,
        ports: dict[str, int],
        ready_delay: float,
        clock: Callable[[], float] = time.time,
        oom_after: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.ready_delay = ready_delay
        # Overrides every image's oom_after_seconds, so a test need not wait the scenario's 30 s.
        self.oom_after = oom_after
        self.clock = clock
        self.containers: dict[str, Container] = {}
        self._lock = threading.RLock()
        now = clock()
        for name, spec in scenario.containers.items():
            self.containers[name] = self._seeded(name, spec, ports.get(name), now)

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock:
            yield

    def _seeded(self, name: str, spec: ContainerSpec, port: int | None, now: float) -> Container:
        end = now - spec.stopped_minutes_ago * 60 if spec.state == "exited" else now
        started = end - spec.up_minutes * 60
        memory = memory_bytes(spec.memory) or 0
        project = self.scenario.project
        labels = {_PROJECT: project, _SERVICE: spec.service, _NUMBER: str(spec.number)}
        box = Container(
            id=container_id(f"{self.scenario.name}/{name}"),
            name=name,
            image=spec.image,
            env=dict(spec.env),
            labels=labels,
            memory=memory,
            memory_swap=2 * memory if memory else 0,
            publish=spec.publish,
            host_port=port,
            restart_policy=spec.restart_policy,
            healthcheck=spec.healthcheck,
            created=started - 5,
            memory_used=memory_bytes(spec.memory_used) or 0,
            cpu_percent=spec.cpu_percent,
            exec=dict(spec.exec),
            status=spec.state,
            started_at=started,
            finished_at=end if spec.state == "exited" else None,
            exit_code=spec.exit_code,
            oom_killed=spec.oom_killed,
            restart_count=spec.restart_count,
        )
        step = (end - started) / (len(spec.logs) + 1)
        box.logs = [_line(started + step * (i + 1), raw) for i, raw in enumerate(spec.logs)]
        return box

    # --- looking containers up ---------------------------------------------------------

    def find(self, ref: str) -> Container:
        """By name (with or without its leading /), full id or unique id prefix, as Docker does."""
        name = ref.removeprefix("/")
        if name in self.containers:
            box = self.containers[name]
        else:
            hits = [c for c in self.containers.values() if ref and c.id.startswith(ref)]
            if len(hits) != 1:
                raise HostError(404, f"No such container: {ref}")
            box = hits[0]
        self.settle(box)
        return box

    def all(self) -> list[Container]:
        for box in self.containers.values():
            self.settle(box)
        return sorted(self.containers.values(), key=lambda c: c.created, reverse=True)

    def oom_deadline(self, box: Container) -> float | None:
        """When a running container outgrows its memory limit; None if it fits."""
        profile = self.scenario.profile(box.image)
        needed = memory_bytes(profile.memory) or 0
        if not box.running or box.started_at is None or not box.memory or needed <= box.memory:
            return None
        after = profile.oom_after_seconds if self.oom_after is None else self.oom_after
        return box.started_at + after

    def settle(self, box: Container) -> None:
        deadline = self.oom_deadline(box)
        if deadline is None or self.clock() < deadline:
            return
        box.status, box.exit_code, box.oom_killed, box.finished_at = "exited", 137, True, deadline
        oom_log = self.scenario.profile(box.image).oom_log
        box.logs += [_line(deadline, raw) for raw in oom_log]

    # --- transitions -------------------------------------------------------------------

    def start(self, box: Container) -> bool:
        """Start a stopped container; False if it was already running (Docker's 304)."""
        if box.running:
            return False
        clash = [
            c.name
            for c in self.containers.values()
            if c is not box and c.running and box.host_port and c.host_port == box.host_port
        ]
        if clash:
            raise HostError(
                500,
                f"driver failed programming external connectivity on endpoint {box.name}: "
                f"Bind for 127.0.0.1:{box.host_port} failed: port is already allocated",
            )
        now = self.clock()
        box.status, box.started_at, box.finished_at = "running", now, None
        box.exit_code, box.oom_killed = 0, False
        box.logs += [_line(now, raw) for raw in self.scenario.profile(box.image).start_log]
        return True

    def stop(self, box: Container) -> bool:
        """Stop a running container (it exits 0 on SIGTERM); False if it was not running."""
        if not box.running:
            return False
        box.status, box.finished_at, box.exit_code = "exited", self.clock(), 0
        return True

    def restart(self, box: Container) -> None:
        self.stop(box)
        self.start(box)

    def update(self, box: Container, body: dict[str, Any]) -> None:
        """`docker update`: Docker's own checks on a memory limit and its swap."""
        memory = int(body.get("Memory") or box.memory)
        swap = int(body.get("MemorySwap") or box.memory_swap)
        if memory and memory < 6 * 2**20:
            raise HostError(409, "Minimum memory limit allowed is 6MB")
        if "MemorySwap" not in body and 0 < box.memory_swap < memory:
            raise HostError(
                409,
                "Memory limit should be smaller than already set memoryswap limit, "
                "update the memoryswap at the same time",
            )
        if memory and 0 < swap < memory:
            raise HostError(
                409, "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
        box.memory, box.memory_swap = memory, swap

    def create(self, name: str, body: dict[str, Any]) -> Container:
        if name in self.containers:
            taken = self.containers[name].id
            raise HostError(
                409,
                f'Conflict. The container name "/{name}" is already in use by container '
                f'"{taken}". You have to remove (or rename) that container to be able to '
                "reuse that name.",
            )
        image = str(body.get("Image") or "")
        known = {c.image for c in self.containers.values()} | set(self.scenario.images)
        if image not in known:
            raise HostError(404, f"No such image: {image}")
        host = body.get("HostConfig") or {}
        bindings = host.get("PortBindings") or {}
        publish = next(iter(bindings), None)
        port = (bindings.get(publish) or [{}])[0].get("HostPort") if publish else None
        env = dict(e.split("=", 1) for e in body.get("Env") or [] if "=" in e)
        now = self.clock()
        box = Container(
            id=container_id(f"{self.scenario.name}/{name}/{now}"),
            name=name,
            image=image,
            env=env,
            labels=dict(body.get("Labels") or {}),
            memory=int(host.get("Memory") or 0),
            memory_swap=int(host.get("MemorySwap") or 0),
            publish=publish,
            host_port=int(port) if port else None,
            restart_policy=str((host.get("RestartPolicy") or {}).get("Name") or "no"),
            healthcheck=False,
            created=now,
            memory_used=memory_bytes(self.scenario.profile(image).memory) or 0,
            cpu_percent=1.0,
            exec={},
        )
        self.containers[name] = box
        return box

    def remove(self, box: Container, force: bool) -> None:
        if box.running and not force:
            raise HostError(
                409,
                f"You cannot remove a running container {box.id}. Stop the container before "
                "attempting removal or force remove",
            )
        del self.containers[box.name]
