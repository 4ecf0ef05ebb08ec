"""Every drill scenario of both stand-ins, and the one a drill or `runbook-bot sandbox` picks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.drills.docker import list_scenarios as docker_scenarios
from bot.drills.docker import load_scenario as load_docker_scenario
from bot.drills.kubernetes import list_scenarios as kubernetes_scenarios
from bot.drills.kubernetes.scenario import load_scenario as load_kubernetes_scenario
from bot.errors import NotFound

# `drill api-down` drilled oom-bad-deploy before scenarios named their playbook; keep it so.
_PREFERRED = {"api-down": "oom-bad-deploy"}


@dataclass(frozen=True)
class DrillScenario:
    name: str
    playbook: str
    description: str
    platform: Literal["kubernetes", "docker"]


def drill_scenarios() -> list[DrillScenario]:
    """Every scenario of both sandboxes, Kubernetes first, each with the playbook it drills."""
    found = [
        DrillScenario(name, load_kubernetes_scenario(name).playbook, description, "kubernetes")
        for name, description in kubernetes_scenarios()
    ]
    found += [DrillScenario(n, p, d, "docker") for n, p, d in docker_scenarios()]
    return found


def _known(scenarios: list[DrillScenario]) -> str:
    return ", ".join(f"{s.name} ({s.playbook})" for s in scenarios) or "none installed"


def named(scenario: str) -> DrillScenario:
    """The scenario of that name, of either stand-in."""
    known = drill_scenarios()
    found = next((s for s in known if s.name == scenario), None)
    if found is None:
        raise NotFound(f"no drill scenario '{scenario}' (known: {_known(known)})")
    return found


def scenario_for(playbook_id: str, scenario: str | None) -> DrillScenario:
    """The named scenario, else the playbook's preferred or first one."""
    if scenario is not None:
        return named(scenario)
    known = drill_scenarios()
    matching = [s for s in known if s.playbook == playbook_id]
    if not matching:
        raise NotFound(f"no drill scenario for playbook '{playbook_id}' (known: {_known(known)})")
    preferred = _PREFERRED.get(playbook_id)
    return next((s for s in matching if s.name == preferred), matching[0])


def own_scenario(playbook_id: str, scenario: str | None) -> DrillScenario:
    """As `scenario_for`, but only a scenario of that playbook: a game day is scored on the
    scenario's root cause, which must be one of the playbook's."""
    found = scenario_for(playbook_id, scenario)
    if found.playbook != playbook_id:
        raise NotFound(
            f"drill scenario '{found.name}' drills playbook '{found.playbook}', not '{playbook_id}'"
        )
    return found


def root_cause_of(chosen: DrillScenario) -> str:
    """The id of the playbook's root cause the scenario broke, which the drill is scored on."""
    if chosen.platform == "docker":
        return load_docker_scenario(chosen.name).root_cause
    return load_kubernetes_scenario(chosen.name).root_cause
