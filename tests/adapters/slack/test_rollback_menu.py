"""A rollback offers the deployment's real revisions as a menu; a pick asks for approval anew."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes

from bot.adapters.slack import actions
from bot.adapters.slack.actions import ButtonValue
from bot.engine.incident import Approval
from tests.adapters.slack.conftest import ALICE, BOB, SlackBot
from tests.adapters.slack.test_flow import _open, _told, _until


def _image(bot: SlackBot, where: Path) -> str:
    """The image the sandbox's deployment runs, read with the plain client."""
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(bot.sandbox.write_kubeconfig(where / "kubeconfig-check")),
        client_configuration=config,
    )
    apps = kubernetes.client.AppsV1Api(kubernetes.client.ApiClient(config))
    deployment = apps.read_namespaced_deployment("ecap-api", "default")
    assert deployment.spec is not None and deployment.spec.template.spec is not None
    return str(deployment.spec.template.spec.containers[0].image)


async def _rollback_menu(bot: SlackBot) -> tuple[str, dict[str, Any]]:
    """Open the incident, run its diagnostics, request the rollback; its channel and menu."""
    channel = await _open(bot)
    # The rollback is offered once the diagnostics point at the bad release.
    assert await bot.click(bot.button(channel, actions.RUN_STAGE)) == 200
    await _until(lambda: bot.buttons(channel, actions.REQUEST_FIX), "the suggested fixes")
    assert await bot.click(bot.button(channel, actions.REQUEST_FIX, "rollback")) == 200
    await _until(lambda: bot.buttons(channel, actions.FIX_CHOICE), "the revision menu")
    return channel, bot.buttons(channel, actions.FIX_CHOICE)[-1]


async def _approval_when(
    bot: SlackBot, approval_id: str, settled: Callable[[Approval], bool]
) -> Approval:
    """The approval once it exists and `settled` holds for it (20 s at most)."""
    for _ in range(400):
        approval = (await bot.engine.get("INC-0001")).approvals.get(approval_id)
        if approval is not None and settled(approval):
            return approval
        await asyncio.sleep(0.05)
    raise AssertionError(f"approval {approval_id} did not settle")


async def approve_button(bot: SlackBot, channel: str, approval_id: str) -> dict[str, Any]:
    """The approval's Approve button, once posted: the approval is stored before its message."""

    def posted() -> list[dict[str, Any]]:
        buttons = bot.buttons(channel, actions.APPROVE)
        return [b for b in buttons if json.loads(b["value"])["a"] == approval_id]

    await _until(posted, f"the Approve button of {approval_id}")
    return posted()[-1]


async def test_a_revision_picked_from_the_menu_replaces_the_request(
    slack_bot: SlackBot, tmp_path: Path
) -> None:
    bot = slack_bot
    channel, menu = await _rollback_menu(bot)
    labels = [o["text"]["text"] for o in menu["options"]]
    assert labels == ["revision 2: ecap/api:2.4.0", "revision 1: ecap/api:2.3.9"]
    oldest = menu["options"][1]
    assert await bot.click(menu, option=oldest) == 200
    await _approval_when(bot, "A2", lambda a: True)
    incident = await bot.engine.get("INC-0001")
    assert incident.approvals["A2"].choice == 1
    assert incident.approvals["A2"].title.startswith("Roll back to revision 1")
    assert incident.approvals["A1"].state == "denied", "the first request is replaced"
    assert _image(bot, tmp_path) == "ecap/api:2.5.0", "nothing changes before approval"

    assert await bot.click(await approve_button(bot, channel, "A2"), user=BOB) == 200
    await _until(lambda: _image(bot, tmp_path) == "ecap/api:2.3.9", "the rollback to revision 1")
    done = await _approval_when(bot, "A2", lambda a: a.state not in ("approved", "applying"))
    assert done.state == "applied"


async def test_a_forged_revision_is_refused_in_one_line(
    slack_bot: SlackBot, tmp_path: Path
) -> None:
    bot = slack_bot
    _, menu = await _rollback_menu(bot)
    forged = {
        "text": {"type": "plain_text", "text": "revision 9"},
        "value": ButtonValue("INC-0001", step="rollback", choice=9).encode(),
    }
    assert await bot.click(menu, user=ALICE, option=forged) == 200
    await _until(lambda: _told(bot, "revision 9 is not one to roll back to"), "the refusal")
    incident = await bot.engine.get("INC-0001")
    assert list(incident.approvals) == ["A1"]
    assert incident.approvals["A1"].state == "pending"
    assert _image(bot, tmp_path) == "ecap/api:2.5.0"
