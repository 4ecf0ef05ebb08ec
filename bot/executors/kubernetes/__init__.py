"""The Kubernetes backend: reads and fixes over the official `kubernetes` client."""

from __future__ import annotations

from bot.executors.kubernetes.executor import KubernetesExecutor
from bot.executors.kubernetes.params import READS, WRITES

__all__ = ["READS", "WRITES", "KubernetesExecutor"]
