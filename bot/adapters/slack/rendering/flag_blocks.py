"""Flag buttons: what a responder reports that a runbook escalates on ("security suspected")."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.adapters.slack.actions import RAISE_FLAG, ButtonValue
from bot.adapters.slack.rendering.parts import actions, button


def flag_action(flag: str) -> str:
    """One action id per flag: Slack refuses two buttons with one id in a block."""
    return f"{RAISE_FLAG}.{flag}"


def flag_label(flag: str) -> str:
    """`security-suspected` -> `Security suspected`."""
    return flag.replace("-", " ").capitalize()


def flag_buttons(incident_id: str, flags: Sequence[str]) -> list[Block]:
    """One button per flag a waiting level escalates on; nothing when there is none."""
    return actions(
        *(
            button(
                f"Flag: {flag_label(flag)}",
                flag_action(flag),
                ButtonValue(incident_id, flag=flag),
                style="danger",
            )
            for flag in flags
        )
    )
