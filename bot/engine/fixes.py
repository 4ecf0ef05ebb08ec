"""Fixes: a dry-run preview, an approval by someone allowed, one run, a verification."""

from __future__ import annotations

from bot.crashpoints import crash_point
from bot.engine.core import Progress
from bot.engine.incident import BOT, Actor, Approval, Choice, Incident
from bot.engine.lease import LEASE_S, renewed
from bot.engine.menus import choices_from, chosen, chosen_title, menu_kind, menu_read
from bot.engine.verification import VerificationFlow
from bot.errors import InvalidRequest
from bot.executors.base import CheckResult, Preview, WriteAction
from bot.metrics import FIXES
from bot.playbooks.models import FixStep


def fix_claim(incident_id: str, approval_id: str) -> str:
    """The store claim held while a fix is approved and applied, until its result is stored."""
    return f"fix:{incident_id}:{approval_id}"


def fix_action(step: FixStep, approval: Approval) -> WriteAction:
    """What an approval runs: the step's action with the pick from its menu, if any."""
    # The pick was checked against the menu when requested; the API refuses a revision that
    # has gone since, as one line.
    return chosen(step.action, approval.choice, approval.choices)


class FixFlow(VerificationFlow):
    """Every fix passes through request_fix, then approve (or deny)."""

    async def request_fix(
        self, incident_id: str, step_id: str, requester: Actor, choice: int | None = None
    ) -> Approval:
        """Dry-run the fix and record an approval request with its preview.

        `choice` picks from the step's menu (a revision, a replica count, a resource factor); it
        replaces a pending request for the same step with another pick, so only one can be
        approved.
        """
        incident = await self.get(incident_id)
        self._require_open(incident)
        step = self._step(incident, step_id)
        if not isinstance(step, FixStep):
            raise InvalidRequest(f"step '{step_id}' is a {step.kind} step, not a fix")
        target = self.target(incident)
        menu = await self._menu(step, incident, needed=choice is not None)
        action = chosen(step.action, choice, menu)
        pending = [
            a
            for a in incident.approvals.values()
            if a.step_id == step_id and a.state == "pending" and not self._expired(a)
        ]
        for approval in pending:
            if approval.choice == choice:
                return approval
        preview = await target.runner.preview(
            action, target.binding, incident.service, self.fix_timeout
        )
        if preview.error:
            others = "; ".join(c.label for c in menu if c.value != choice)
            hint = f" (its menu offers: {others})" if others else ""
            raise InvalidRequest(f"cannot preview '{step.title}': {preview.error}{hint}")

        def change(current: Incident) -> Approval:
            fresh_id = f"A{len(current.approvals) + 1}"
            for replaced in pending:
                older = current.approvals[replaced.id]
                if older.state == "pending":
                    older.state, older.decided_by, older.decided_at = (
                        "denied",
                        requester,
                        self.clock(),
                    )
                    current.record(
                        self.clock(),
                        requester,
                        "fix-denied",
                        f"{older.title}: replaced by approval {fresh_id} "
                        f"({chosen_title(step.action, step.title, choice)})",
                        step.id,
                    )
            return self._new_approval(
                current, step, preview, requester, requester, choice=choice, choices=menu
            )

        return (await self._mutate(incident_id, change, requester))[1]

    async def _menu(self, step: FixStep, incident: Incident, *, needed: bool) -> list[Choice]:
        """The step's menu; without a pick, a menu that cannot be read is just not offered."""
        if menu_kind(step.action) is None:
            return []
        read = menu_read(step.action)
        target = self.target(incident)
        try:
            result = None
            if read is not None:
                result = await target.runner.check(
                    read, target.binding, incident.service, self.fix_timeout
                )
            return choices_from(step.action, result)
        except InvalidRequest:
            if needed:
                raise
            return []

    def _new_approval(
        self,
        incident: Incident,
        step: FixStep,
        preview: Preview,
        requester: Actor,
        actor: Actor,
        *,
        choice: int | None = None,
        choices: list[Choice] | None = None,
    ) -> Approval:
        now = self.clock()
        title = chosen_title(step.action, step.title, choice)
        approval = Approval(
            id=f"A{len(incident.approvals) + 1}",
            step_id=step.id,
            title=title,
            destructive=step.destructive,
            preview=preview,
            requested_by=requester,
            requested_at=now,
            expires_at=now + self.approval_ttl,
            choice=choice,
            choices=choices or [],
            menu=menu_kind(step.action) or "revision",
        )
        incident.approvals[approval.id] = approval
        incident.record(
            now,
            actor,
            "fix-requested",
            f"{title}: {preview.summary} (approval {approval.id})",
            step.id,
        )
        return approval

    async def deny(
        self, incident_id: str, approval_id: str, actor: Actor, reason: str = ""
    ) -> Approval:
        def change(incident: Incident) -> Approval:
            approval = self._pending(incident, approval_id)
            if not self.policy.may_approve(actor) and actor.id != approval.requested_by.id:
                raise InvalidRequest(f"{actor.label} may not deny fixes")
            approval.state, approval.decided_by, approval.decided_at = "denied", actor, self.clock()
            incident.record(
                self.clock(),
                actor,
                "fix-denied",
                f"{approval.title}: denied"
                + (f" ({reason.strip()[:200]})" if reason.strip() else ""),
                approval.step_id,
            )
            return approval

        denied, approval = await self._mutate(incident_id, change, actor)
        FIXES.inc(result="denied", playbook=denied.playbook_id)
        return approval

    async def approve(
        self, incident_id: str, approval_id: str, approver: Actor, progress: Progress | None = None
    ) -> Approval:
        """Approve and run a fix exactly once, then verify it if the step says how."""
        incident = await self.get(incident_id)
        self._require_open(incident)
        approval = self._pending(incident, approval_id)
        self.policy.check(approval, approver)
        # The claim is what makes double clicks, retries and replicas run the fix once; held
        # until the result is stored, it also tells recovery that this fix is still running.
        claim = fix_claim(incident_id, approval_id)
        if not await self.store.claim(claim, self._owner, ttl_s=LEASE_S):
            raise InvalidRequest(
                f"approval {approval_id} is already being handled; a fix runs once"
            )
        async with renewed(self.store, claim, self._owner):
            step, result = await self._approve_and_apply(incident, approval_id, approver)
        FIXES.inc(
            result="applied" if result.status == "ok" else "failed", playbook=incident.playbook_id
        )
        if result.status == "ok" and step.verify is not None:
            verification = await self._verify_fix(incident, step, progress)

            def verified(current: Incident) -> None:
                current.approvals[approval_id].verification = verification
                current.record(
                    self.clock(),
                    BOT,
                    "verification",
                    f"after {step.title}: {verification.summary}",
                    step.id,
                )
                if verification.status == "ok":
                    current.mitigated_at = current.mitigated_at or self.clock()

            await self._mutate(incident_id, verified, BOT)
        return (await self.get(incident_id)).approvals[approval_id]

    async def _approve_and_apply(
        self, incident: Incident, approval_id: str, approver: Actor
    ) -> tuple[FixStep, CheckResult]:
        incident_id = incident.id
        # Before anything is recorded: a drill's fix approved on a replica without its sandbox
        # (or a service no longer bound) is refused and changes nothing, not left "applying".
        target = self.target(incident)

        def approved(current: Incident) -> tuple[FixStep, WriteAction]:
            pending = self._pending(current, approval_id)
            pending.state, pending.decided_by, pending.decided_at = (
                "approved",
                approver,
                self.clock(),
            )
            current.record(
                self.clock(),
                approver,
                "fix-approved",
                f"{pending.title}: approved by {approver.label} "
                f"(requested by {pending.requested_by.label})",
                pending.step_id,
            )
            step = self._step(current, pending.step_id)
            assert isinstance(step, FixStep)
            return step, fix_action(step, pending)

        step, action = (await self._mutate(incident_id, approved, approver))[1]
        crash_point("fix-approved")

        def applying(current: Incident) -> None:
            # Stored before the change is sent: a crash from here on may have changed the target.
            current.approvals[approval_id].state = "applying"

        await self._mutate(incident_id, applying, BOT)
        result = await target.runner.apply(
            action, target.binding, incident.service, self.fix_timeout
        )

        def applied(current: Incident) -> None:
            done = current.approvals[approval_id]
            done.state = "applied" if result.status == "ok" else "failed"
            done.result = result
            current.record(
                self.clock(),
                BOT,
                "fix-applied" if result.status == "ok" else "fix-failed",
                f"{done.title}: {result.summary}",
                done.step_id,
            )

        await self._mutate(incident_id, applied, BOT)
        return step, result
