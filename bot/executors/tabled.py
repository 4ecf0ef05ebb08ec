"""The Executor protocol over one client, with reads and fixes looked up by action type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Mapping
from typing import Any, Generic, TypeVar

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, ReadAction, WriteAction
from bot.redact import redact

ClientT = TypeVar("ClientT")
Read = Callable[[ClientT, Any, ServiceBinding], Awaitable[CheckResult]]
Plan = Callable[[ClientT, WriteAction, ServiceBinding], Awaitable[Preview]]
Apply = Callable[[ClientT, WriteAction, ServiceBinding], Awaitable[CheckResult]]


class TabledExecutor(Generic[ClientT]):
    """Runs a backend's reads and fixes; its `failure` exception becomes a one-line result."""

    def __init__(
        self,
        backend: str,
        client: ClientT,
        failure: type[Exception],
        readers: Mapping[str, Read[ClientT]],
        fixes: Container[str],
        preview_fix: Plan[ClientT],
        apply_fix: Apply[ClientT],
    ) -> None:
        self._backend = backend
        self._client = client
        self._failure = failure
        self._readers = readers
        self._fixes = fixes
        self._preview_fix = preview_fix
        self._apply_fix = apply_fix

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult:
        reader = self._readers.get(action.type)
        if reader is None:
            return CheckResult(status="error", summary=f"not a {self._backend} read: {action.type}")
        try:
            result = await reader(self._client, action, target)
        except self._failure as exc:
            return CheckResult(status="error", summary=str(exc))
        return result.model_copy(
            update={"summary": redact(result.summary), "output": redact(result.output)}
        )

    async def preview(self, action: WriteAction, target: ServiceBinding) -> Preview:
        if action.type not in self._fixes:
            reason = f"not a {self._backend} fix: {action.type}"
            return Preview(summary=reason, error=reason)
        try:
            return await self._preview_fix(self._client, action, target)
        except self._failure as exc:
            return Preview(summary=f"cannot preview {action.type}: {exc}", error=str(exc))

    async def apply(self, action: WriteAction, target: ServiceBinding) -> CheckResult:
        if action.type not in self._fixes:
            return CheckResult(status="error", summary=f"not a {self._backend} fix: {action.type}")
        try:
            return await self._apply_fix(self._client, action, target)
        except self._failure as exc:
            return CheckResult(status="error", summary=str(exc))
