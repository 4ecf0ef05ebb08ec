"""KubernetesExecutor: the Executor protocol over the official `kubernetes` client."""

from __future__ import annotations

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, ReadAction, WriteAction
from bot.executors.kubernetes.client import KubeClient
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.fixes import PLANNERS, apply_fix, preview_fix
from bot.executors.kubernetes.reads import READERS
from bot.redact import redact


class KubernetesExecutor:
    """Runs Kubernetes reads and fixes; every failure becomes a one-line error result."""

    def __init__(
        self, kubeconfig: str | None = None, *, context: str | None = None, timeout: float = 10.0
    ) -> None:
        self._kube = KubeClient(kubeconfig, context, timeout)

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult:
        reader = READERS.get(action.type)
        if reader is None:
            return CheckResult(status="error", summary=f"not a Kubernetes read: {action.type}")
        try:
            result = await reader(self._kube, action, target)
        except KubeError as exc:
            return CheckResult(status="error", summary=str(exc))
        return result.model_copy(
            update={"summary": redact(result.summary), "output": redact(result.output)}
        )

    async def preview(self, action: WriteAction, target: ServiceBinding) -> Preview:
        if action.type not in PLANNERS:
            reason = f"not a Kubernetes fix: {action.type}"
            return Preview(summary=reason, error=reason)
        try:
            return await preview_fix(self._kube, action, target)
        except KubeError as exc:
            return Preview(summary=f"cannot preview {action.type}: {exc}", error=str(exc))

    async def apply(self, action: WriteAction, target: ServiceBinding) -> CheckResult:
        if action.type not in PLANNERS:
            return CheckResult(status="error", summary=f"not a Kubernetes fix: {action.type}")
        try:
            return await apply_fix(self._kube, action, target)
        except KubeError as exc:
            return CheckResult(status="error", summary=str(exc))

    async def close(self) -> None:
        await self._kube.close()
