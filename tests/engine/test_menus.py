"""A fix step's menu: choices read from a rollout history, a pick checked against them."""

from __future__ import annotations

import pytest

from bot.engine.incident import Choice
from bot.engine.menus import choices_from, chosen, menu_read
from bot.errors import InvalidRequest
from bot.executors.base import CheckResult, Finding
from bot.executors.kubernetes.params import K8sRolloutUndo, K8sScale

HISTORY = CheckResult(
    status="ok",
    summary="deployment/api at revision 3",
    findings=[
        Finding(name="rollout.revision", value=3, subject="deployment/api"),
        *(
            Finding(name="rollout.history", value=image, subject=f"revision/{n}")
            for n, image in ((1, "api:1"), (2, "api:2"), (3, "api:3"))
        ),
    ],
)
UNDO = K8sRolloutUndo(type="k8s.rollout_undo", deployment="api")


def test_the_menu_is_every_revision_but_the_running_one_newest_first() -> None:
    assert choices_from(HISTORY) == [
        Choice(value=2, label="revision 2: api:2"),
        Choice(value=1, label="revision 1: api:1"),
    ]


def test_a_history_that_cannot_be_read_says_why() -> None:
    failed = CheckResult(status="error", summary="forbidden: replicasets")
    with pytest.raises(InvalidRequest, match="cannot list the revisions: forbidden"):
        choices_from(failed)


def test_a_pick_must_be_on_the_menu() -> None:
    menu = choices_from(HISTORY)
    assert chosen(UNDO, None, menu) is UNDO
    assert chosen(UNDO, 1, menu).model_dump()["to_revision"] == 1
    with pytest.raises(
        InvalidRequest, match=r"revision 3 is not one to roll back to \(offered: 2, 1\)"
    ):
        chosen(UNDO, 3, menu)


def test_only_a_rollback_has_a_menu() -> None:
    scale = K8sScale(type="k8s.scale", replicas=3)
    assert menu_read(scale) is None
    with pytest.raises(InvalidRequest, match=r"k8s\.scale offers no choice of revision"):
        chosen(scale, 1, [Choice(value=1, label="revision 1")])
    read = menu_read(UNDO)
    assert read is not None and read.deployment == "api"
