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


@dataclass(frozen=True)
class _Menu:
    """How one kind of fix lists its choices, checks a pick, and names it."""

    kind: MenuKind
    noun: str
    read: Callable[[WriteAction], ReadAction | None]
    choices: Callable[[WriteAction, CheckResult | None], list[Choice]]
    apply: Callable[[WriteAction, int], WriteAction]
    title: Callable[[int], str]


def _history_read(action: WriteAction) -> ReadAction:
    assert isinstance(action, K8sRolloutUndo)
    return K8sRolloutHistory(
        type="k8s.rollout_history", namespace=action.namespace, deployment=action.deployment
    )


def _revisions(action: WriteAction, result: CheckResult | None) -> list[Choice]:
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


def _status_read(action: WriteAction) -> ReadAction:
    assert isinstance(action, K8sScale)
    return K8sRolloutStatus(
        type="k8s.rollout_status", namespace=action.namespace, deployment=action.deployment
    )


def _replica_counts(action: WriteAction, result: CheckResult | None) -> list[Choice]:
    """The live count, one more, twice it and the playbook's counts, none above the maximum."""
    assert isinstance(action, K8sScale) and result is not None
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


def _factors(action: WriteAction, result: CheckResult | None) -> list[Choice]:
    return [
        Choice(value=p, label=f"x{p / 100:g} the current requests and limits")
        for p in RESOURCE_FACTORS
    ]


def _raising(action: WriteAction) -> bool:
    return isinstance(action, K8sPatchResources) and action.only_raise


_MENUS = (
    _Menu(
        kind="revision",
        noun="revision",
        read=_history_read,
        choices=_revisions,
        apply=lambda a, n: a.model_copy(update={"to_revision": n}),
        title=lambda n: f"Roll back to revision {n} (kubectl rollout undo --to-revision={n})",
    ),
    _Menu(
        kind="replicas",
        noun="replica count",
        read=_status_read,
        choices=_replica_counts,
        apply=lambda a, n: a.model_copy(update={"replicas": n}),
        title=lambda n: f"Scale to {n} replicas (kubectl scale --replicas={n})",
    ),
    _Menu(
        kind="resources",
        noun="factor",
        read=lambda a: None,
        choices=_factors,
        apply=lambda a, p: a.model_copy(update={"factor_percent": p}),
        title=lambda p: f"Raise requests and limits to x{p / 100:g} the current values",
    ),
)


def _menu(action: WriteAction) -> _Menu | None:
    if isinstance(action, K8sRolloutUndo):
        return _MENUS[0]
    if isinstance(action, K8sScale):
        return _MENUS[1]
    if _raising(action):
        return _MENUS[2]
    return None


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
    kind = _menu(action)
    if kind is None:
        raise InvalidRequest(f"{action.type} offers no menu to pick from")
    if choice not in {c.value for c in menu}:
        offered = ", ".join(str(c.value) for c in menu) or "none"
        if kind.kind == "revision":
            raise InvalidRequest(
                f"revision {choice} is not one to roll back to (offered: {offered})"
            )
        raise InvalidRequest(f"{kind.noun} {choice} is not on the menu (offered: {offered})")
    return kind.apply(action, choice)


def chosen_title(action: WriteAction, title: str, choice: int | None) -> str:
    """The approval's title: the step's, or the command the pick stands for."""
    menu = _menu(action)
    if choice is None or menu is None:
        return title
    return menu.title(choice)
