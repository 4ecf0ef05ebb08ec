"""Who may approve a fix. Lives in the engine so every adapter enforces the same rule."""

from __future__ import annotations

from bot.engine.incident import Actor, Approval
from bot.errors import NotAllowed


class ApprovalPolicy:
    """Approvers are user IDs or user-group IDs from the config's `approvers:` list."""

    def __init__(self, approvers: list[str]) -> None:
        self.approvers = frozenset(approvers)

    def may_approve(self, actor: Actor) -> bool:
        return actor.id in self.approvers or bool(actor.groups & self.approvers)

    def check(self, approval: Approval, actor: Actor) -> None:
        """Raise NotAllowed with the reason when `actor` may not approve `approval`."""
        if not self.approvers:
            raise NotAllowed("no approvers are configured: add user or group IDs under approvers:")
        if not self.may_approve(actor):
            raise NotAllowed(f"{actor.label} is not an approver for fixes")
        if approval.destructive and actor.id == approval.requested_by.id:
            raise NotAllowed(
                "this fix is destructive: it needs an approver other than the requester"
            )
