"""Incident roles: who commands, communicates and operates, each handed over on the timeline."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.engine.core import EngineCore
from bot.engine.incident import Actor, Incident
from bot.errors import InvalidRequest
from bot.playbooks.models import Playbook

# A Slack user id or a console login; `@` is how people write either.
_HOLDER = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


@dataclass(frozen=True)
class Seat:
    """One role of an incident and who holds it ("" when nobody does)."""

    id: str
    title: str
    holder: str


def seats(incident: Incident, playbook: Playbook) -> list[Seat]:
    """Every role the incident has, in the playbook's order, the commander first."""
    return [
        Seat(role, title, holder(incident, role)) for role, title in playbook.role_titles().items()
    ]


def holder(incident: Incident, role: str) -> str:
    if role == "commander":
        return incident.commander or ""
    return incident.roles.get(role, "")


def find_role(playbook: Playbook, raw: str) -> str:
    """A role's id from its id or title as typed (`comms` is not guessed); InvalidRequest else."""
    wanted = raw.strip().lower().replace(" ", "-")
    for role, title in playbook.role_titles().items():
        if wanted in (role, title.replace(" ", "-")):
            return role
    known = ", ".join(playbook.role_titles())
    raise InvalidRequest(f"no role '{raw[:40]}' (roles: {known})")


class RoleFlow(EngineCore):
    """Assigning and handing over roles."""

    async def assign_role(
        self, incident_id: str, raw_role: str, who: str, actor: Actor
    ) -> Incident:
        """Give `role` to `who`; the timeline says who held it before."""
        name = who.strip().removeprefix("@")
        if not _HOLDER.match(name):
            raise InvalidRequest(f"'{who[:40]}' is not a user: name one as @name or a user id")

        def change(incident: Incident) -> None:
            self._require_open(incident)
            playbook = self.playbook_for(incident)
            role = find_role(playbook, raw_role)
            title = playbook.role_titles()[role]
            before = holder(incident, role)
            if before == name:
                raise InvalidRequest(f"{name} is already {title}")
            if role == "commander":
                incident.commander = name
            else:
                incident.roles[role] = name
            handed = f" (handed over from {before})" if before else ""
            incident.record(self.clock(), actor, "role", f"{name} is {title}{handed}")

        return (await self._mutate(incident_id, change, actor))[0]
