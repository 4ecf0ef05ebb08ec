"""Every drill scenario names a root cause its playbook has, so a drill can be scored against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.drills.catalog import DrillScenario, drill_scenarios
from bot.drills.docker.scenario import load_scenario as load_docker_scenario
from bot.drills.kubernetes.scenario import load_scenario as load_kubernetes_scenario
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = drill_scenarios()


@pytest.fixture(scope="module")
def playbooks() -> dict[str, Playbook]:
    return load_playbooks(REPO / "playbooks", TemplateRenderer(REPO / "templates"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_names_a_root_cause_of_its_playbook(
    scenario: DrillScenario, playbooks: dict[str, Playbook]
) -> None:
    load = load_kubernetes_scenario if scenario.platform == "kubernetes" else load_docker_scenario
    expected = load(scenario.name).root_cause
    causes = [cause.id for cause in playbooks[scenario.playbook].root_causes()]
    assert expected in causes, f"{scenario.name}: '{expected}' is not one of {causes}"
