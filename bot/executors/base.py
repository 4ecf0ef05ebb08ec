"""What every executor returns, and the protocol it implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.config import PrometheusConfig, ServiceBinding
from bot.redact import redact

# ok: the check passed; problem: the check ran and saw something wrong;
# error: the check could not run (forbidden, unreachable, timed out); skipped: nothing to run.
Status = Literal["ok", "problem", "error", "skipped"]

Scalar = str | int | float | bool


class Finding(BaseModel):
    """One structured fact a diagnostic observed; root-cause symptoms are predicates over these."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: Scalar
    subject: str = ""


class CheckResult(BaseModel):
    """The outcome of a read (or of applying a fix): a one-line summary plus detail."""

    status: Status
    summary: str
    output: str = ""
    findings: list[Finding] = Field(default_factory=list)

    def redacted(self) -> CheckResult:
        """This result with anything that looks like a credential masked."""
        return self.model_copy(
            update={"summary": redact(self.summary), "output": redact(self.output)}
        )


class Preview(BaseModel):
    """What a fix would change, computed without changing anything (server-side dry run)."""

    summary: str
    before: str = ""
    after: str = ""
    diff: str = ""
    # Set when the dry run itself failed (forbidden, not found, ...): the fix cannot be approved.
    error: str | None = None

    def redacted(self) -> Preview:
        """This preview with anything that looks like a credential masked."""
        shown = {
            name: redact(getattr(self, name)) for name in ("summary", "before", "after", "diff")
        }
        return self.model_copy(
            update={**shown, "error": redact(self.error) if self.error else None}
        )


class ReadAction(BaseModel):
    """Base of every read-only action's params; `type` names the action."""

    model_config = ConfigDict(extra="forbid")

    type: str


class WriteAction(BaseModel):
    """Base of every action that changes something; it needs approval and a preview."""

    model_config = ConfigDict(extra="forbid")

    type: str


class Executor(Protocol):
    """One backend (Kubernetes, HTTP, ...). Every method returns; none raises for API errors."""

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult: ...

    async def preview(self, action: WriteAction, target: ServiceBinding) -> Preview: ...

    async def apply(self, action: WriteAction, target: ServiceBinding) -> CheckResult: ...


@dataclass(frozen=True)
class ClientSettings:
    """Where the backends that hold a client connect; unset: their defaults."""

    kubeconfig: str | None = None
    docker_host: str | None = None
    prometheus: PrometheusConfig | None = None


@dataclass(frozen=True)
class Backend:
    """One registered backend: the actions a playbook may name, and how to build its executor."""

    name: str
    reads: tuple[type[ReadAction], ...]
    writes: tuple[type[WriteAction], ...]
    build: Callable[[ClientSettings], Executor]
