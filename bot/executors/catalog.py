"""The one list of backends: playbook validation and the running bot both read it.

Adding a backend is one package (or module) exporting `BACKEND`, and one line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from bot.config import PrometheusConfig
from bot.executors import docker, http, kubernetes, network, postgres, prometheus, redis
from bot.executors.base import Backend, ClientSettings, ReadAction, WriteAction
from bot.executors.registry import ExecutorRegistry

BACKENDS: tuple[Backend, ...] = (
    kubernetes.BACKEND,
    docker.BACKEND,
    postgres.BACKEND,
    http.BACKEND,
    network.BACKEND,
    redis.BACKEND,
    prometheus.BACKEND,
)

READ_TYPES: tuple[type[ReadAction], ...] = tuple(t for b in BACKENDS for t in b.reads)
WRITE_TYPES: tuple[type[WriteAction], ...] = tuple(t for b in BACKENDS for t in b.writes)


def build_registry(
    kubeconfig: str | None = None,
    docker_host: str | None = None,
    prometheus: PrometheusConfig | None = None,
) -> ExecutorRegistry:
    """Every backend's executor; each connects on first use, so a missing cluster is no bar."""
    clients = ClientSettings(kubeconfig, docker_host, prometheus)
    return ExecutorRegistry((b.reads + b.writes, b.build(clients)) for b in BACKENDS)


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
