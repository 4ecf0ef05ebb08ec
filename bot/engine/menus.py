"""The values a fix step lets a responder pick, read from the live target, never typed.

Today one fix has a menu: `k8s.rollout_undo`, whose choices are the deployment's real revisions
(as `kubectl rollout undo --to-revision=N`). A pick is checked against a fresh read of the menu
before it reaches any API.
"""

from __future__ import annotations

from bot.engine.incident import Choice
from bot.errors import InvalidRequest
from bot.executors.base import CheckResult, WriteAction
from bot.executors.kubernetes.params import K8sRolloutHistory, K8sRolloutUndo


def menu_read(action: WriteAction) -> K8sRolloutHistory | None:
    """The read that lists the choices of `action`, or None when it offers none."""
    if not isinstance(action, K8sRolloutUndo):
        return None
    return K8sRolloutHistory(
        type="k8s.rollout_history", namespace=action.namespace, deployment=action.deployment
    )


def choices_from(result: CheckResult) -> list[Choice]:
    """Every revision but the running one, newest first, from a rollout history read."""
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


def chosen(action: WriteAction, choice: int | None, menu: list[Choice]) -> WriteAction:
    """`action` with the responder's pick applied, once the pick is found in the menu."""
    if choice is None:
        return action
    if not isinstance(action, K8sRolloutUndo):
        raise InvalidRequest(f"{action.type} offers no choice of revision")
    if choice not in {c.value for c in menu}:
        offered = ", ".join(str(c.value) for c in menu) or "none"
        raise InvalidRequest(f"revision {choice} is not one to roll back to (offered: {offered})")
    return action.model_copy(update={"to_revision": choice})


def chosen_title(title: str, choice: int | None) -> str:
    """The approval's title: the step's, or the command the pick stands for."""
    if choice is None:
        return title
    return f"Roll back to revision {choice} (kubectl rollout undo --to-revision={choice})"
