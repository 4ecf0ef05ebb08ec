"""DockerExecutor: the Executor protocol over the `docker` SDK."""

from __future__ import annotations

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, ReadAction, WriteAction
from bot.executors.docker.client import DockerClient, DockerError
from bot.executors.docker.fixes import PLANNERS, apply_fix, preview_fix
from bot.executors.docker.reads import READERS
from bot.redact import redact


class DockerExecutor:
    """Runs Docker reads and fixes; every failure becomes a one-line error result.

    `base_url` defaults to DOCKER_HOST, else the local socket; nothing connects until the first
    action, so a bot without Docker still starts.
    """

    def __init__(self, base_url: str | None = None, *, timeout: float = 10.0) -> None:
        self._docker = DockerClient(base_url, timeout)

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult:
        reader = READERS.get(action.type)
        if reader is None:
            return CheckResult(status="error", summary=f"not a Docker read: {action.type}")
        try:
            result = await reader(self._docker, action, target)
        except DockerError as exc:
            return CheckResult(status="error", summary=str(exc))
        return result.model_copy(
            update={"summary": redact(result.summary), "output": redact(result.output)}
        )

    async def preview(self, action: WriteAction, target: ServiceBinding) -> Preview:
        if action.type not in PLANNERS:
            reason = f"not a Docker fix: {action.type}"
            return Preview(summary=reason, error=reason)
        try:
            return await preview_fix(self._docker, action, target)
        except DockerError as exc:
            return Preview(summary=f"cannot preview {action.type}: {exc}", error=str(exc))

    async def apply(self, action: WriteAction, target: ServiceBinding) -> CheckResult:
        if action.type not in PLANNERS:
            return CheckResult(status="error", summary=f"not a Docker fix: {action.type}")
        try:
            return await apply_fix(self._docker, action, target)
        except DockerError as exc:
            return CheckResult(status="error", summary=str(exc))

    async def close(self) -> None:
        await self._docker.close()
