"""The Executor protocol over one client, with reads and fixes looked up by action type.

Every backend is one of these: its reads and fixes are tables from the playbook's `type:` to
a function `(client, action, target)`, and its own failure exception becomes a one-line result.
Backends that open a fresh connection per action (Redis, Postgres, network) hold no client:
theirs is None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, ReadAction, WriteAction
from bot.redact import redact

ClientT = TypeVar("ClientT")
Read = Callable[[ClientT, Any, ServiceBinding], Awaitable[CheckResult]]
Plan = Callable[[ClientT, Any, ServiceBinding], Awaitable[Preview]]
Apply = Callable[[ClientT, Any, ServiceBinding], Awaitable[CheckResult]]
# The one-line reason a failure gives, e.g. prefixed with the server it happened on.
Reason = Callable[[Any, Exception], str]


@dataclass(frozen=True)
class Fix(Generic[ClientT]):
    """A fix's two halves: what it would change (a dry run), and the change itself."""

    preview: Plan[ClientT]
    apply: Apply[ClientT]


def _said(action: Any, exc: Exception) -> str:
    return str(exc)


class TabledExecutor(Generic[ClientT]):
    """Runs a backend's reads and fixes; its `failure` exceptions become a one-line result."""

    def __init__(
        self,
        backend: str,
        client: ClientT,
        readers: Mapping[str, Read[ClientT]],
        fixes: Mapping[str, Fix[ClientT]] | None = None,
        *,
        failure: type[Exception] | tuple[type[Exception], ...] = (),
        reason: Reason = _said,
    ) -> None:
        self._backend = backend
        self._client = client
        self._readers = readers
        self._fixes = fixes or {}
        self._failure = failure
        self._reason = reason

    @property
    def action_types(self) -> frozenset[str]:
        """Every `type:` this executor answers, reads and fixes."""
        return frozenset(self._readers) | frozenset(self._fixes)

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult:
        reader = self._readers.get(action.type)
        if reader is None:
            return CheckResult(status="error", summary=f"not a {self._backend} read: {action.type}")
        try:
            result = await reader(self._client, action, target)
        except self._failure as exc:
            return CheckResult(status="error", summary=redact(self._reason(action, exc)))
        return result.redacted()

    async def preview(self, action: WriteAction, target: ServiceBinding) -> Preview:
        fix = self._fixes.get(action.type)
        if fix is None:
            reason = self._refusal(action)
            return Preview(summary=reason, error=reason)
        try:
            preview = await fix.preview(self._client, action, target)
        except self._failure as exc:
            reason = redact(self._reason(action, exc))
            return Preview(summary=f"cannot preview {action.type}: {reason}", error=reason)
        return preview.redacted()

    async def apply(self, action: WriteAction, target: ServiceBinding) -> CheckResult:
        fix = self._fixes.get(action.type)
        if fix is None:
            return CheckResult(status="error", summary=self._refusal(action))
        try:
            result = await fix.apply(self._client, action, target)
        except self._failure as exc:
            return CheckResult(status="error", summary=redact(self._reason(action, exc)))
        return result.redacted()

    def _refusal(self, action: WriteAction) -> str:
        if not self._fixes:
            return f"{action.type} is a check, not a fix"
        return f"not a {self._backend} fix: {action.type}"
