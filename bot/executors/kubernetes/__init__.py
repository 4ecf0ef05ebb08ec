"""The Kubernetes backend: reads and fixes over the official `kubernetes` client."""

from __future__ import annotations

from bot.executors.base import Backend
from bot.executors.kubernetes.executor import KubernetesExecutor
from bot.executors.kubernetes.params import READS, WRITES

BACKEND = Backend(
    "kubernetes", READS, WRITES, lambda clients: KubernetesExecutor(clients.kubeconfig)
)

__all__ = ["BACKEND", "READS", "WRITES", "KubernetesExecutor"]
