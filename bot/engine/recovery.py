"""Fixes a crash cut short: found on start, looked at again, told, and offered for a fresh approval.

A fix approved (or being applied) with no result and nobody holding its claim was left by a
process that died. Whether its change reached the target cannot be told from the record, so it
is never re-run: the target is read again with the fix's dry run, the room is told what it shows,
the approval is marked interrupted, and a fresh approval with the new preview is requested.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.fixes import FixFlow, fix_action, fix_claim
from bot.engine.incident import BOT, Approval, Incident
from bot.engine.lease import LEASE_S
from bot.executors.base import Preview
from bot.playbooks.models import FixStep

# The states of a fix whose process stopped before its result was stored.
UNFINISHED = ("approved", "applying")


@dataclass(frozen=True)
class Interruption:
    """A fix found interrupted: the incident as stored, the old approval and the fresh one."""

    incident: Incident
    approval: Approval
    fresh: Approval | None
    text: str


def unfinished(incident: Incident) -> list[Approval]:
    """Approvals whose fix was approved but has no result (yet, or ever)."""
    return [a for a in incident.approvals.values() if a.state in UNFINISHED and a.result is None]


def _what_it_shows(approval: Approval, now: Preview) -> tuple[str, bool]:
    """What the target shows now, and whether the change is evidently in place already."""
    if now.error:
        return f"the target could not be read again ({now.error})", False
    if not (now.before or now.after or now.diff):
        return (
            f"the change is already in place (a dry run now changes nothing: {now.summary})",
            True,
        )
    then = approval.preview
    if then.after and now.before == then.after:
        return f"the change is already in place (it shows what the fix set: {now.before})", True
    if (now.before, now.after) == (then.before, then.after):
        return f"nothing reached the cluster: a dry run still shows {now.summary}", False
    return f"the target changed since the request: a dry run now shows {now.summary}", False


class RecoveryFlow(FixFlow):
    """Reconciles the fixes of processes that died between approving and storing a result."""

    async def reconcile_fix(self, incident_id: str, approval_id: str) -> Interruption | None:
        """Mark one unfinished fix interrupted and ask afresh; None while someone still holds it
        (its process alive, or dead for less than the claim's lease) or it has finished."""
        claim = fix_claim(incident_id, approval_id)
        if not await self.store.claim(claim, self._owner, ttl_s=LEASE_S):
            return None
        try:
            # Read after claiming: the holder may have stored its result and let go meanwhile.
            incident = await self.get(incident_id)
            approval = incident.approvals.get(approval_id)
            if approval is None or approval not in unfinished(incident):
                return None
            step = self._step(incident, approval.step_id)
            assert isinstance(step, FixStep)
            target = self.target(incident)
            # The fix as it was approved: a rollback keeps its picked revision.
            preview = await target.runner.preview(
                fix_action(step, approval), target.binding, incident.service, self.fix_timeout
            )
            shows, landed = _what_it_shows(approval, preview)
            when = (
                "before it was applied"
                if approval.state == "approved"
                else ("while it was being applied")
            )

            def change(current: Incident) -> tuple[Approval, Approval | None]:
                old = current.approvals[approval_id]
                if old not in unfinished(current):
                    raise _Finished
                old.state = "interrupted"
                offered = current.status == "open" and not landed and not preview.error
                fresh_id = f"A{len(current.approvals) + 1}"
                if offered:
                    then = f"It was not run again: approval {fresh_id} asks for it afresh."
                elif landed:
                    then = "It was not run again; nothing is left for it to do."
                else:
                    then = "It was not run again: request the fix again once the target answers."
                text = (
                    f"{old.title}: approval {old.id} was interrupted {when} (the bot stopped); "
                    f"{shows}. {then}"
                )
                current.record(self.clock(), BOT, "fix-interrupted", text, old.step_id)
                fresh = None
                if offered:
                    fresh = self._new_approval(
                        current,
                        step,
                        preview,
                        old.requested_by,
                        BOT,
                        choice=old.choice,
                        choices=old.choices,
                    )
                    assert fresh.id == fresh_id
                return old, fresh

            try:
                stored, (old, fresh) = await self._mutate(incident_id, change, BOT)
            except _Finished:
                return None
            told = next(e for e in reversed(stored.timeline) if e.event == "fix-interrupted")
            return Interruption(stored, old, fresh, told.text)
        finally:
            await self.store.release(claim, self._owner)


class _Finished(Exception):
    """The fix's result arrived while it was being looked at: nothing to reconcile."""
