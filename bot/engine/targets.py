"""Where an incident's steps run: its service's binding, or a drill's own sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.config import ServiceBinding
from bot.engine.incident import Actor, Incident
from bot.engine.runner import ActionRunner
from bot.errors import InvalidRequest


@dataclass(frozen=True)
class Target:
    """A service binding and the runner whose executors reach it."""

    binding: ServiceBinding
    runner: ActionRunner


class Sandboxes(Protocol):
    """Starts drills against sandboxes of their own; the serving adapters are handed one by
    the command that runs them, since nothing else in the product imports the drills."""

    def scenario(self, playbook_id: str, scenario: str | None) -> str:
        """The scenario a drill of the playbook would run; NotFound for a bad pair,
        InvalidRequest when this process runs as many drills as it may."""
        ...

    async def open(self, playbook_id: str, scenario: str | None, actor: Actor) -> Incident:
        """A new drill incident against a fresh sandbox of the scenario."""
        ...

    async def close(self) -> None:
        """Stop every sandbox."""
        ...


def unreachable(incident: Incident, here: str) -> InvalidRequest:
    """The one-line refusal for a drill whose sandbox is not in this process."""
    owner = incident.drill.owner if incident.drill is not None else ""
    if owner and owner != here:
        return InvalidRequest(
            f"DRILL {incident.id} runs against a sandbox in {owner}, not in this replica "
            f"({here}); try again there, or resolve the drill"
        )
    return InvalidRequest(
        f"DRILL {incident.id}'s sandbox is gone (its process stopped); resolve the drill"
    )
