"""A fix step's menu: choices read from the live target, a pick checked against them."""

from __future__ import annotations

import pytest

from bot.engine.incident import Choice
from bot.engine.menus import choices_from, chosen, chosen_title, menu_read
from bot.errors import InvalidRequest
from bot.executors.base import CheckResult, Finding
from bot.executors.kubernetes.params import (
    K8sPatchResources,
    K8sRolloutHistory,
    K8sRolloutRestart,
    K8sRolloutStatus,
    K8sRolloutUndo,
    K8sScale,
)

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
    assert choices_from(UNDO, HISTORY) == [
        Choice(value=2, label="revision 2: api:2"),
        Choice(value=1, label="revision 1: api:1"),
    ]


def test_a_history_that_cannot_be_read_says_why() -> None:
    failed = CheckResult(status="error", summary="forbidden: replicasets")
    with pytest.raises(InvalidRequest, match="cannot list the revisions: forbidden"):
        choices_from(UNDO, failed)


def test_a_pick_must_be_on_the_menu() -> None:
    menu = choices_from(UNDO, HISTORY)
    assert chosen(UNDO, None, menu) is UNDO
    assert chosen(UNDO, 1, menu).model_dump()["to_revision"] == 1
    with pytest.raises(
        InvalidRequest, match=r"revision 3 is not one to roll back to \(offered: 2, 1\)"
    ):
        chosen(UNDO, 3, menu)


def test_a_restart_has_no_menu_and_a_rollback_reads_its_history() -> None:
    restart = K8sRolloutRestart(type="k8s.rollout_restart")
    assert menu_read(restart) is None
    with pytest.raises(InvalidRequest, match=r"k8s\.rollout_restart offers no menu"):
        chosen(restart, 1, [Choice(value=1, label="revision 1")])
    read = menu_read(UNDO)
    assert isinstance(read, K8sRolloutHistory) and read.deployment == "api"


def _status(desired: int) -> CheckResult:
    return CheckResult(
        status="problem",
        summary=f"0/{desired} replicas available",
        findings=[Finding(name="rollout.desired", value=desired, subject="deployment/api")],
    )


SCALE = K8sScale(type="k8s.scale", deployment="api", replicas=5, offered=[10], max_replicas=10)


def test_replica_counts_are_the_live_one_one_more_twice_and_the_runbooks() -> None:
    read = menu_read(SCALE)
    assert isinstance(read, K8sRolloutStatus) and read.deployment == "api"
    assert choices_from(SCALE, _status(3)) == [
        Choice(value=3, label="3 replicas (current)"),
        Choice(value=4, label="4 replicas (one more)"),
        Choice(value=5, label="5 replicas (the runbook's)"),
        Choice(value=6, label="6 replicas (twice the current)"),
        Choice(value=10, label="10 replicas (the runbook's)"),
    ]
    assert chosen(SCALE, 6, choices_from(SCALE, _status(3))).model_dump()["replicas"] == 6
    assert chosen_title(SCALE, "Scale up", 6) == "Scale to 6 replicas (kubectl scale --replicas=6)"


def test_no_replica_count_above_the_maximum_is_offered_or_taken() -> None:
    menu = choices_from(SCALE, _status(8))
    assert [c.value for c in menu] == [5, 8, 9, 10]
    with pytest.raises(InvalidRequest, match=r"replica count 16 is not on the menu"):
        chosen(SCALE, 16, menu)
    # Unset, the maximum is twice the runbook's count.
    assert K8sScale(type="k8s.scale", replicas=3).ceiling() == 6
    with pytest.raises(ValueError, match="above max_replicas"):
        K8sScale(type="k8s.scale", replicas=12, max_replicas=10)


def test_a_replica_count_that_cannot_be_read_says_why() -> None:
    failed = CheckResult(status="error", summary="deployment api not found")
    with pytest.raises(InvalidRequest, match="cannot read the replica count: deployment api"):
        choices_from(SCALE, failed)


def test_only_a_raise_of_resources_offers_factors() -> None:
    raise_ = K8sPatchResources(
        type="k8s.patch_resources", only_raise=True, limits={"memory": "2Gi"}
    )
    plain = K8sPatchResources(type="k8s.patch_resources", limits={"memory": "2Gi"})
    assert menu_read(raise_) is None and choices_from(plain, None) == []
    menu = choices_from(raise_, None)
    assert [c.value for c in menu] == [150, 200]
    assert chosen(raise_, 200, menu).model_dump()["factor_percent"] == 200
    with pytest.raises(InvalidRequest, match="offers no menu"):
        chosen(plain, 150, menu)
    with pytest.raises(ValueError, match="needs only_raise"):
        K8sPatchResources(type="k8s.patch_resources", factor_percent=150)
