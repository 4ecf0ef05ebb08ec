"""Every action the bot knows, by backend, as pydantic unions for playbook validation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from bot.executors import http, network
from bot.executors import redis as redis_checks
from bot.executors.base import ReadAction, WriteAction
from bot.executors.docker import params as docker
from bot.executors.kubernetes import params as kubernetes
from bot.executors.postgres import params as postgres

BACKENDS = {
    "kubernetes": (kubernetes.READS, kubernetes.WRITES),
    "docker": (docker.READS, docker.WRITES),
    "postgres": (postgres.READS, postgres.WRITES),
    "http": (http.READS, http.WRITES),
    "network": (network.READS, network.WRITES),
    "redis": (redis_checks.READS, redis_checks.WRITES),
}

READ_TYPES: tuple[type[ReadAction], ...] = tuple(t for reads, _ in BACKENDS.values() for t in reads)
WRITE_TYPES: tuple[type[WriteAction], ...] = tuple(
    t for _, writes in BACKENDS.values() for t in writes
)


def action_name(cls: type[ReadAction] | type[WriteAction]) -> str:
    """The `type:` a playbook writes for this params class, e.g. 'k8s.pods'."""
    return str(cls.model_fields["type"].annotation.__args__[0])  # type: ignore[union-attr]


READ_NAMES = frozenset(action_name(t) for t in READ_TYPES)
WRITE_NAMES = frozenset(action_name(t) for t in WRITE_TYPES)

# mypy sees the common base; pydantic sees a union discriminated by `type`, so a playbook error
# points at the exact field of the exact action.
if TYPE_CHECKING:
    AnyRead = ReadAction
    AnyWrite = WriteAction
else:
    AnyRead = Annotated[Union[READ_TYPES], Field(discriminator="type")]  # noqa: UP007
    AnyWrite = Annotated[Union[WRITE_TYPES], Field(discriminator="type")]  # noqa: UP007
