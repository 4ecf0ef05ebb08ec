"""Docker: containers through the `docker` SDK (DOCKER_HOST or the local socket)."""

from __future__ import annotations

from bot.executors.base import Backend
from bot.executors.docker.executor import DockerExecutor
from bot.executors.docker.params import READS, WRITES

BACKEND = Backend("docker", READS, WRITES, lambda clients: DockerExecutor(clients.docker_host))

__all__ = ["BACKEND", "READS", "WRITES", "DockerExecutor"]
