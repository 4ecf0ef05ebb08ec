"""Shared by the Kubernetes executor tests: sandbox clusters started on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.config import ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.executors.kubernetes import KubernetesExecutor

Started = tuple[Sandbox, KubernetesExecutor, ServiceBinding]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[[str], Started]]:
    running: list[Started] = []

    def _start(scenario: str) -> Started:
        sandbox = Sandbox.start(scenario, ready_delay=0.0)
        kubeconfig = sandbox.write_kubeconfig(tmp_path / f"kubeconfig-{len(running)}")
        binding = ServiceBinding.model_validate(sandbox.binding()).with_defaults(
            sandbox.service_name
        )
        running.append((sandbox, KubernetesExecutor(str(kubeconfig)), binding))
        return running[-1]

    yield _start
    for sandbox, executor, _ in running:
        await executor.close()
        sandbox.stop()
