"""Replica counts and resource factors are menus like the rollback's revisions, never typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes

from bot.adapters.slack import actions
from bot.adapters.slack.actions import ButtonValue
from tests.adapters.slack.conftest import ALICE, BOB, SlackBot
from tests.adapters.slack.test_flow import _open, _told, _until
from tests.adapters.slack.test_rollback_menu import _approval_when, approve_button


def _deployment(bot: SlackBot, where: Path) -> Any:
    """The sandbox's deployment, read with the plain client."""
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(bot.sandbox.write_kubeconfig(where / "kubeconfig-check")),
        client_configuration=config,
    )
    apps = kubernetes.client.AppsV1Api(kubernetes.client.ApiClient(config))
    return apps.read_namespaced_deployment("ecap-api", "default")


async def _menu(bot: SlackBot, step: str) -> tuple[str, dict[str, Any]]:
    """Open the incident, run its diagnostics, request `step`; its channel and its menu."""
    channel = await _open(bot)
    assert await bot.click(bot.button(channel, actions.RUN_STAGE)) == 200
    await _until(lambda: bot.buttons(channel, actions.REQUEST_FIX), "the suggested fixes")
    assert await bot.click(bot.button(channel, actions.REQUEST_FIX, step)) == 200
    await _until(lambda: bot.buttons(channel, actions.FIX_CHOICE), "the menu")
    return channel, bot.buttons(channel, actions.FIX_CHOICE)[-1]


async def test_a_replica_count_picked_from_the_menu_is_scaled_to(
    slack_bot: SlackBot, tmp_path: Path
) -> None:
    bot = slack_bot
    channel, menu = await _menu(bot, "scale-up-replicas")
    assert menu["placeholder"]["text"] == "Scale to another replica count"
    labels = [o["text"]["text"] for o in menu["options"]]
    assert labels == [
        "3 replicas (current)",
        "4 replicas (one more)",
        "5 replicas (the runbook's)",
        "6 replicas (twice the current)",
        "10 replicas (the runbook's)",
    ]
    twice = menu["options"][3]
    assert await bot.click(menu, option=twice) == 200
    await _approval_when(bot, "A2", lambda a: True)
    incident = await bot.engine.get("INC-0001")
    assert incident.approvals["A2"].choice == 6
    assert incident.approvals["A2"].title == "Scale to 6 replicas (kubectl scale --replicas=6)"
    assert incident.approvals["A1"].state == "denied", "the first request is replaced"
    assert _deployment(bot, tmp_path).spec.replicas == 3, "nothing changes before approval"

    assert await bot.click(await approve_button(bot, channel, "A2"), user=BOB) == 200
    await _until(lambda: _deployment(bot, tmp_path).spec.replicas == 6, "the scale to 6")
    done = await _approval_when(bot, "A2", lambda a: a.state not in ("approved", "applying"))
    assert done.state == "applied"


async def test_a_forged_replica_count_is_refused_in_one_line(
    slack_bot: SlackBot, tmp_path: Path
) -> None:
    bot = slack_bot
    _, menu = await _menu(bot, "scale-up-replicas")
    forged = {
        "text": {"type": "plain_text", "text": "500 replicas"},
        "value": ButtonValue("INC-0001", step="scale-up-replicas", choice=500).encode(),
    }
    assert await bot.click(menu, user=ALICE, option=forged) == 200
    await _until(lambda: _told(bot, "replica count 500 is not on the menu"), "the refusal")
    incident = await bot.engine.get("INC-0001")
    assert list(incident.approvals) == ["A1"]
    assert _deployment(bot, tmp_path).spec.replicas == 3


async def test_a_resource_factor_is_picked_from_the_menu(slack_bot: SlackBot) -> None:
    bot = slack_bot
    _, menu = await _menu(bot, "scale-up-resources")
    assert menu["placeholder"]["text"] == "Raise by another factor"
    labels = [o["text"]["text"] for o in menu["options"]]
    assert labels == [
        "x1.5 the current requests and limits",
        "x2 the current requests and limits",
    ]
    assert await bot.click(menu, option=menu["options"][1]) == 200
    picked = await _approval_when(bot, "A2", lambda a: True)
    assert picked.choice == 200
    assert "limits.memory 512Mi -> 1Gi" in picked.preview.summary + picked.preview.diff
