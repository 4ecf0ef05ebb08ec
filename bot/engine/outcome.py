"""What became of a fix, in the same words on every surface."""

from __future__ import annotations

from bot.engine.incident import Approval

# Approvals that never ran: a fixes list leaves them out.
NOT_RUN = frozenset({"pending", "denied", "expired"})


def fix_outcome(approval: Approval) -> str:
    """`applied`, `applied, verification failed`, `failed`, or the state's own name.

    A state this module does not know (one added later) is shown by its name, never as applied.
    """
    verification = approval.verification
    if approval.state == "applied" and verification is not None and verification.status != "ok":
        return "applied, verification failed"
    return approval.state


def fixes_line(approvals: list[Approval]) -> str:
    """Every fix that ran, compactly: `A1 Restart: applied, verification failed; A2 ...`."""
    return "; ".join(
        f"{a.id} {a.title}: {fix_outcome(a)}" for a in approvals if a.state not in NOT_RUN
    )
