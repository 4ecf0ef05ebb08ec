"""A planned Docker fix: what it would change, and the one call that changes it."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import docker

from bot.executors.docker.client import DockerClient
from bot.executors.docker.containers import State, inspect


@dataclass(frozen=True)
class Plan:
    """`title` describes the effect for the preview; `run` sends it; `done` says it happened."""

    title: str
    before: str
    after: str
    run: Callable[[docker.DockerClient], None]
    done: str
    # The container whose state is shown after applying, unless `state_after` says otherwise.
    name: str = ""
    # Extra seconds the call may take beyond the client timeout (a stop's grace period).
    slack: float = 0
    state_after: Callable[[DockerClient], Awaitable[str]] | None = None

    def diff(self) -> str:
        lines = difflib.unified_diff(
            self.before.splitlines(), self.after.splitlines(), "before", "after", lineterm=""
        )
        return "\n".join(lines)

    async def outcome(self, client: DockerClient) -> str:
        """The state after applying, in words."""
        if self.state_after is not None:
            return await self.state_after(client)
        return State.of(await inspect(client, self.name)).short()
