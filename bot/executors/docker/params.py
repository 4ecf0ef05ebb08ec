"""Params of every Docker action. An unset container is the service binding's `container`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from bot.executors.base import ReadAction, WriteAction
from bot.executors.params import Argument, ComposeName, ContainerName, EnvName, Pattern, Quantity

# --- reads -----------------------------------------------------------------------------


class DockerContainer(ReadAction):
    """`docker ps -a` for one container: state, health, exit code, OOM kill, restart count."""

    type: Literal["docker.container"]
    container: ContainerName | None = None


class DockerLogs(ReadAction):
    """`docker logs --tail N`: the container's recent output, redacted, optionally filtered."""

    type: Literal["docker.logs"]
    container: ContainerName | None = None
    tail: int = Field(default=100, ge=1, le=5000)
    since_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    # Keep only the lines matching this (case-insensitive), as `| grep` would.
    match: Pattern | None = None


class DockerStats(ReadAction):
    """`docker stats --no-stream`: one snapshot of CPU and memory against the limit."""

    type: Literal["docker.stats"]
    container: ContainerName | None = None


class DockerInspect(ReadAction):
    """`docker inspect`: image, memory limit, restart policy, port bindings, compose labels."""

    type: Literal["docker.inspect"]
    container: ContainerName | None = None


class DockerEnv(ReadAction):
    """`docker exec env | grep`: the container's environment from inspect, values redacted."""

    type: Literal["docker.env"]
    container: ContainerName | None = None
    # Only variables whose names start with one of these; empty: all of them.
    prefixes: list[EnvName] = Field(default_factory=list, max_length=20)


class DockerExec(ReadAction):
    """Run the playbook's fixed argument list in the container (no shell) and show its output."""

    type: Literal["docker.exec"]
    container: ContainerName | None = None
    command: list[Argument] = Field(min_length=1, max_length=32)
    timeout_s: float = Field(default=10.0, gt=0, le=120)


# --- writes ----------------------------------------------------------------------------


class DockerRestart(WriteAction):
    """`docker restart` / `docker-compose restart SERVICE`: stop (with a grace period), start."""

    type: Literal["docker.restart"]
    container: ContainerName | None = None
    stop_timeout_s: int = Field(default=10, ge=0, le=300)


class DockerStart(WriteAction):
    """`docker start` / `docker-compose up -d` for a container that exists but is stopped."""

    type: Literal["docker.start"]
    container: ContainerName | None = None


class DockerStop(WriteAction):
    """`docker stop` / `docker-compose stop SERVICE`."""

    type: Literal["docker.stop"]
    container: ContainerName | None = None
    stop_timeout_s: int = Field(default=10, ge=0, le=300)


class DockerSetMemory(WriteAction):
    """`docker update --memory`: raise (or lower) a running container's memory limit."""

    type: Literal["docker.set_memory"]
    container: ContainerName | None = None
    memory: Quantity


class DockerComposeScale(WriteAction):
    """`docker-compose up -d --scale SERVICE=N`, for containers whose compose labels allow it.

    New replicas are copies of the service's first container; one that publishes a fixed
    host port cannot be copied, and the preview says so.
    """

    type: Literal["docker.compose_scale"]
    project: ComposeName | None = None
    service: ComposeName | None = None
    replicas: int = Field(ge=0, le=50)


# HOST:CONTAINER[/PROTO], optionally IP:HOST:CONTAINER, as a compose file's `ports:` writes it.
PortMapping = Annotated[
    str,
    Field(
        pattern=r"^((25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}:)?"
        r"[1-9][0-9]{0,4}:[1-9][0-9]{0,4}(/(tcp|udp))?$"
    ),
]


class DockerRecreate(WriteAction):
    """`docker-compose up -d` after a change a start cannot apply (a port mapping): the
    container is made anew with the same name, config, labels, networks and volumes.

    `ports`, when given, are the container's published ports from now on, all of them.
    """

    type: Literal["docker.recreate"]
    container: ContainerName | None = None
    ports: list[PortMapping] | None = Field(default=None, max_length=20)
    stop_timeout_s: int = Field(default=10, ge=0, le=300)


READS = (DockerContainer, DockerLogs, DockerStats, DockerInspect, DockerEnv, DockerExec)
WRITES = (
    DockerRestart, DockerStart, DockerStop, DockerSetMemory, DockerComposeScale, DockerRecreate,
)  # fmt: skip
