"""Docker: containers through the `docker` SDK (DOCKER_HOST or the local socket)."""

from __future__ import annotations

from bot.executors.docker.executor import DockerExecutor
from bot.executors.docker.params import READS, WRITES

__all__ = ["READS", "WRITES", "DockerExecutor"]
