"""DockerExecutor: the Executor protocol over the `docker` SDK."""

from __future__ import annotations

from bot.executors.docker.client import DockerClient, DockerError
from bot.executors.docker.fixes import FIXES
from bot.executors.docker.reads import READERS
from bot.executors.tabled import TabledExecutor


class DockerExecutor(TabledExecutor[DockerClient]):
    """Runs Docker reads and fixes; every failure becomes a one-line error result.

    `base_url` defaults to DOCKER_HOST, else the local socket; nothing connects until the first
    action, so a bot without Docker still starts.
    """

    def __init__(self, base_url: str | None = None, *, timeout: float = 10.0) -> None:
        self._docker = DockerClient(base_url, timeout)
        super().__init__("Docker", self._docker, READERS, FIXES, failure=DockerError)

    async def close(self) -> None:
        await self._docker.close()
