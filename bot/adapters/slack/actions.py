"""Action ids of every button and modal, and the compact values buttons carry."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.errors import InvalidRequest

RUN_STAGE = "rb.run_stage"
RUN_STEP = "rb.run_step"
REQUEST_FIX = "rb.request_fix"
# A rollback's menu of the deployment's real revisions (a select on the approval message).
FIX_CHOICE = "rb.fix_choice"
APPROVE = "rb.approve"
DENY = "rb.deny"
MARK_DONE = "rb.mark_done"
VERIFY = "rb.verify"
STATUS_MODAL = "rb.status_modal"
ADVANCE = "rb.advance"
COMMANDER = "rb.commander"
RESOLVE = "rb.resolve"
# Escalation nudges and status-update reminders.
ESCALATE_NOW = "rb.escalate_now"
ON_IT = "rb.on_it"
SNOOZE_ESCALATION = "rb.snooze_escalation"
SNOOZE_REMINDER = "rb.snooze_reminder"
MUTE_REMINDERS = "rb.mute_reminders"
# A responder reports what a level escalates on ("security suspected").
RAISE_FLAG = "rb.raise_flag"
# The post-incident checklist: its checkboxes and owner pickers; both act after resolving.
CHECKLIST = "rb.checklist"
CHECKLIST_OWNER = "rb.checklist_owner"
# "Create ticket" on a post-incident checklist item: a follow-up in the configured tracker.
CHECKLIST_TICKET = "rb.checklist_ticket"
# The headline's user picker per role (its block carries the role) and its severity menu.
ROLE = "rb.role"
SEVERITY = "rb.severity"
ALL = (
    RUN_STAGE, RUN_STEP, REQUEST_FIX, FIX_CHOICE, APPROVE, DENY, MARK_DONE, VERIFY, STATUS_MODAL,
    ADVANCE,
    COMMANDER, RESOLVE, ESCALATE_NOW, ON_IT, SNOOZE_ESCALATION, SNOOZE_REMINDER, MUTE_REMINDERS,
    CHECKLIST, CHECKLIST_OWNER, CHECKLIST_TICKET, RAISE_FLAG, ROLE, SEVERITY,
)  # fmt: skip

# Modals (callback ids) and the inputs inside them.
STATUS_VIEW = "rb.status_view"
STATUS_TEMPLATE = "rb.status_template"
STATUS_ETA = "rb.status_eta"
STATUS_TEXT = "rb.status_text"
RESOLVE_VIEW = "rb.resolve_view"
RESOLVE_CAUSE = "rb.resolve_cause"
RESOLVE_RESOLUTION = "rb.resolve_resolution"


@dataclass(frozen=True)
class ButtonValue:
    """What a button remembers: its incident, the stage it was shown for, and its target."""

    incident: str
    stage: int = -1
    step: str = ""
    approval: str = ""
    level: int = -1
    choice: int = -1
    flag: str = ""
    role: str = ""

    def encode(self) -> str:
        data = {
            "i": self.incident,
            "g": self.stage,
            "s": self.step,
            "a": self.approval,
            "l": self.level,
            "c": self.choice,
            "f": self.flag,
            "r": self.role,
        }
        return json.dumps(
            {k: v for k, v in data.items() if v not in ("", -1)}, separators=(",", ":")
        )

    @classmethod
    def decode(cls, raw: str | None) -> ButtonValue:
        try:
            data = json.loads(raw or "")
            incident = data["i"]
            if not isinstance(incident, str) or not incident:
                raise ValueError
            return cls(
                incident=incident,
                stage=int(data.get("g", -1)),
                step=str(data.get("s", "")),
                approval=str(data.get("a", "")),
                level=int(data.get("l", -1)),
                choice=int(data.get("c", -1)),
                flag=str(data.get("f", "")),
                role=str(data.get("r", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise InvalidRequest("this button's data is not valid; use /incident status") from None
