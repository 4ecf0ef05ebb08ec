"""One container as `docker inspect` describes it: finding it, its state in words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import docker
from docker.errors import NotFound

from bot.config import ServiceBinding
from bot.executors.common import dig
from bot.executors.docker.client import DockerClient, DockerError, Obj

MIB = 1024 * 1024
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
ONEOFF_LABEL = "com.docker.compose.oneoff"


def container_name(wanted: str | None, target: ServiceBinding) -> str:
    """The action's container, else the binding's."""
    name = wanted or target.container
    if not name:
        raise DockerError("no container given and the service binding names none")
    return name


def missing(name: str) -> DockerError:
    return DockerError(f"no container named '{name}'", missing=True)


async def inspect(client: DockerClient, name: str) -> Obj:
    """`docker inspect NAME`; a container that does not exist is DockerError(missing=True)."""

    def work(engine: docker.DockerClient) -> Obj:
        try:
            attrs: Obj = engine.api.inspect_container(name)
        except NotFound:
            raise missing(name) from None
        return attrs

    return await client.call(work, what=f"container {name}")


def name_of(attrs: Obj) -> str:
    return str(attrs.get("Name") or attrs.get("Id", "")[:12]).lstrip("/")


def labels_of(attrs: Obj) -> dict[str, str]:
    return dict(dig(attrs, "Config", "Labels") or {})


def parse_time(stamp: object) -> datetime | None:
    """Docker's RFC 3339 stamps carry nanoseconds; the zero time means never."""
    match = _STAMP.match(stamp) if isinstance(stamp, str) else None
    if match is None or match[1].startswith("0001-"):
        return None
    zone = "+00:00" if match[3] in (None, "Z") else match[3]
    return datetime.fromisoformat(f"{match[1]}.{(match[2] or '0')[:6]:0<6}{zone}")


def duration(seconds: float) -> str:
    """'40 s', '5 min', '3 h', '2 d'."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def since(stamp: object, now: datetime | None = None) -> str | None:
    when = parse_time(stamp)
    if when is None:
        return None
    return duration(((now or datetime.now(UTC)) - when).total_seconds())


@dataclass(frozen=True)
class State:
    """The facts `docker ps -a` shows for one container."""

    name: str
    status: str
    running: bool
    exit_code: int
    oom_killed: bool
    restart_count: int
    health: str
    started_at: str
    finished_at: str

    @classmethod
    def of(cls, attrs: Obj) -> State:
        state = attrs.get("State") or {}
        return cls(
            name=name_of(attrs),
            status=str(state.get("Status") or "unknown"),
            # Restarting and paused containers also report Running: true; neither serves.
            running=state.get("Status") == "running",
            exit_code=int(state.get("ExitCode") or 0),
            oom_killed=bool(state.get("OOMKilled")),
            restart_count=int(attrs.get("RestartCount") or 0),
            health=str(dig(state, "Health", "Status") or "none"),
            started_at=str(state.get("StartedAt") or ""),
            finished_at=str(state.get("FinishedAt") or ""),
        )

    @property
    def ran_seconds(self) -> int | None:
        """How long a stopped container's last run lasted; None while it runs or when unknown."""
        started, finished = parse_time(self.started_at), parse_time(self.finished_at)
        if self.running or started is None or finished is None or finished < started:
            return None
        return int((finished - started).total_seconds())

    @property
    def healthy(self) -> bool:
        return self.running and self.health in ("healthy", "none")

    def line(self) -> str:
        """'api: exited (code 137, OOM killed) 2 min ago, restarted 3 times'."""
        if self.status == "running":
            detail = {"none": "", "healthy": " (healthy)", "unhealthy": " (unhealthy)"}.get(
                self.health, f" (health {self.health})"
            )
            up = since(self.started_at)
            text = f"{self.name}: running{detail}" + (f", up {up}" if up else "")
        else:
            facts = [] if self.status in ("created", "paused") else [f"code {self.exit_code}"]
            if self.oom_killed:
                facts.append("OOM killed")
            text = f"{self.name}: {self.status}" + (f" ({', '.join(facts)})" if facts else "")
            ago = since(self.finished_at)
            if ago and self.status in ("exited", "dead", "restarting"):
                text += f" {ago} ago"
        if self.restart_count:
            times = "once" if self.restart_count == 1 else f"{self.restart_count} times"
            text += f", restarted {times}"
        return text

    def short(self) -> str:
        """'running, up 3 h' for previews."""
        return self.line().split(": ", 1)[1]
