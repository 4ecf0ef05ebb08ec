"""The values a fix step lets a responder pick, offered as a menu, never typed.

Three fixes have a menu: `k8s.rollout_undo` offers the deployment's real revisions (as
`kubectl rollout undo --to-revision=N`), `k8s.scale` replica counts around the live one (as
`kubectl scale --replicas=N`), bounded by the step's maximum, and a `k8s.patch_resources` that
only raises offers factors of the current requests and limits. A pick is checked against a fresh
read of the menu before it reaches any API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.engine.incident import Choice, MenuKind
from bot.errors import InvalidRequest
from bot.executors.base import CheckResult, ReadAction, WriteAction
from bot.executors.kubernetes.params import (
    RESOURCE_FACTORS,
    K8sPatchResources,
    K8sRolloutHistory,
    K8sRolloutStatus,
    K8sRolloutUndo,
    K8sScale,
)

Fix = TypeVar("Fix", bound=WriteAction)


@dataclass(frozen=True)
class Menu(Generic[Fix]):
    """How one kind of fix lists its choices, checks a pick, and names it."""

    kind: MenuKind
    fix: type[Fix]
    # The fix's parameter a pick sets.
    field: str
    read: Callable[[Fix], ReadAction | None]
    choices: Callable[[Fix, CheckResult | None], list[Choice]]
    title: Callable[[int], str]
    # Why a pick is refused, given `choice` and the `offered` values.
    refusal: str
    # Whether a fix of its type offers the menu: some do only with a parameter set.
    offers: Callable[[Fix], bool] = lambda fix: True

    def of(self, action: WriteAction) -> Fix | None:
        """`action` as this menu's fix, when it offers this menu; else None."""
        return action if isinstance(action, self.fix) and self.offers(action) else None

    def apply(self, action: Fix, choice: int) -> Fix:
        return action.model_copy(update={self.field: choice})


def _history_read(action: K8sRolloutUndo) -> ReadAction:
    return K8sRolloutHistory(
        type="k8s.rollout_history", namespace=action.namespace, deployment=action.deployment
    )


def _revisions(action: K8sRolloutUndo, result: CheckResult | None) -> list[Choice]:
    """Every revision but the running one, newest first, from a rollout history read."""
    assert result is not None
    if result.status == "error":
        raise InvalidRequest(f"cannot list the revisions: {result.summary}")
    current = next((f.value for f in result.findings if f.name == "rollout.revision"), None)
    revisions = [
        (int(f.subject.removeprefix("revision/")), str(f.value))
        for f in result.findings
        if f.name == "rollout.history"
    ]
    return [
        Choice(value=number, label=f"revision {number}: {image}")
        for number, image in sorted(revisions, reverse=True)
        if number != current
    ]


def _status_read(action: K8sScale) -> ReadAction:
    return K8sRolloutStatus(
        type="k8s.rollout_status", namespace=action.namespace, deployment=action.deployment
    )


def _replica_counts(action: K8sScale, result: CheckResult | None) -> list[Choice]:
    """The live count, one more, twice it and the playbook's counts, none above the maximum."""
    assert result is not None
    if result.status == "error":
        raise InvalidRequest(f"cannot read the replica count: {result.summary}")
    current = next((f.value for f in result.findings if f.name == "rollout.desired"), None)
    if not isinstance(current, int):
        raise InvalidRequest(f"cannot read the replica count: {result.summary}")
    reasons: dict[int, str] = {}
    for count, why in (
        (action.replicas, "the runbook's"),
        *((n, "the runbook's") for n in action.offered),
        (current, "current"),
        (current + 1, "one more"),
        (current * 2, "twice the current"),
    ):
        if 0 < count <= action.ceiling():
            reasons.setdefault(count, why)
    return [Choice(value=n, label=f"{n} replicas ({reasons[n]})") for n in sorted(reasons)]


def _factors(action: K8sPatchResources, result: CheckResult | None) -> list[Choice]:
    return [
        Choice(value=p, label=f"x{p / 100:g} the current requests and limits")
        for p in RESOURCE_FACTORS
    ]


_MENUS: tuple[Menu[Any], ...] = (
    Menu(
        kind="revision",
        fix=K8sRolloutUndo,
        field="to_revision",
        read=_history_read,
        choices=_revisions,
        title=lambda n: f"Roll back to revision {n} (kubectl rollout undo --to-revision={n})",
        refusal="revision {choice} is not one to roll back to (offered: {offered})",
    ),
    Menu(
        kind="replicas",
        fix=K8sScale,
        field="replicas",
        read=_status_read,
        choices=_replica_counts,
        title=lambda n: f"Scale to {n} replicas (kubectl scale --replicas={n})",
        refusal="replica count {choice} is not on the menu (offered: {offered})",
    ),
    Menu(
        kind="resources",
        fix=K8sPatchResources,
        field="factor_percent",
        read=lambda a: None,
        choices=_factors,
        title=lambda p: f"Raise requests and limits to x{p / 100:g} the current values",
        refusal="factor {choice} is not on the menu (offered: {offered})",
        offers=lambda fix: fix.only_raise,
    ),
)


def _menu(action: WriteAction) -> Menu[Any] | None:
    return next((menu for menu in _MENUS if menu.of(action) is not None), None)


def menu_kind(action: WriteAction) -> MenuKind | None:
    """Which menu `action` offers, or None."""
    menu = _menu(action)
    return menu.kind if menu else None


def menu_read(action: WriteAction) -> ReadAction | None:
    """The read that lists the choices of `action`, or None when it needs none or offers none."""
    menu = _menu(action)
    return menu.read(action) if menu else None


def choices_from(action: WriteAction, result: CheckResult | None) -> list[Choice]:
    """The menu of `action`, from its read's result (None for a menu that needs no read)."""
    menu = _menu(action)
    return menu.choices(action, result) if menu else []


def chosen(action: WriteAction, choice: int | None, menu: list[Choice]) -> WriteAction:
    """`action` with the responder's pick applied, once the pick is found in the menu."""
    if choice is None:
        return action
    offering = _menu(action)
    if offering is None:
        raise InvalidRequest(f"{action.type} offers no menu to pick from")
    if choice not in {c.value for c in menu}:
        offered = ", ".join(str(c.value) for c in menu) or "none"
        raise InvalidRequest(offering.refusal.format(choice=choice, offered=offered))
    picked: WriteAction = offering.apply(action, choice)
    return picked


def chosen_title(action: WriteAction, title: str, choice: int | None) -> str:
    """The approval's title: the step's, or the command the pick stands for."""
    menu = _menu(action)
    if choice is None or menu is None:
        return title
    return menu.title(choice)
