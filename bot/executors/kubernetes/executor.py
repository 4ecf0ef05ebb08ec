"""KubernetesExecutor: the Executor protocol over the official `kubernetes` client."""

from __future__ import annotations

from bot.executors.kubernetes.client import KubeClient
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.fixes import FIXES
from bot.executors.kubernetes.reads import READERS
from bot.executors.tabled import TabledExecutor


class KubernetesExecutor(TabledExecutor[KubeClient]):
    """Runs Kubernetes reads and fixes; every failure becomes a one-line error result."""

    def __init__(
        self, kubeconfig: str | None = None, *, context: str | None = None, timeout: float = 10.0
    ) -> None:
        self._kube = KubeClient(kubeconfig, context, timeout)
        super().__init__("Kubernetes", self._kube, READERS, FIXES, failure=KubeError)

    async def close(self) -> None:
        await self._kube.close()
