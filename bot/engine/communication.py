"""Manual items, status updates, the post-incident document and its checklist."""

from __future__ import annotations

from bot.engine import checklist
from bot.engine.audience import audience_label
from bot.engine.core import EngineCore
from bot.engine.drill_score import DRILL, score
from bot.engine.incident import Actor, ChecklistItem, Incident, ManualDone, StatusUpdate
from bot.engine.template_data import template_context
from bot.errors import InvalidRequest, NotFound
from bot.playbooks.models import CommunicationStep, ManualStep


class CommunicationFlow(EngineCore):
    """What people do and say during and after an incident."""

    async def mark_done(
        self, incident_id: str, step_id: str, actor: Actor, note: str = ""
    ) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            step = self._step(incident, step_id)
            if not isinstance(step, ManualStep | CommunicationStep):
                raise InvalidRequest(
                    f"step '{step_id}' is a {step.kind} step; only manual items are marked done"
                )
            incident.manual_done[step_id] = ManualDone(
                by=actor.label, at=self.clock(), note=note.strip()[:500]
            )
            incident.record(
                self.clock(),
                actor,
                "manual-done",
                step.title + (f" ({note.strip()[:200]})" if note.strip() else ""),
                step_id,
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def render_status(self, incident_id: str, name: str, eta: str = "") -> str:
        incident = await self.get(incident_id)
        playbook = self.playbook_for(incident)
        communication = playbook.communications.get(name)
        if communication is None:
            raise NotFound(
                f"no status template '{name}' (templates: {', '.join(playbook.communications)})"
            )
        if "eta" in communication.needs and not eta.strip():
            raise InvalidRequest(f"the '{name}' update needs an ETA, e.g. eta=45m or eta=14:30 UTC")
        context = template_context(
            incident, playbook, self.config, self.clock(), eta=eta.strip()[:100]
        )
        return self.templates.render(communication.template, context)

    async def post_status(self, incident_id: str, name: str, text: str, actor: Actor) -> Incident:
        text = text.strip()
        if not text:
            raise InvalidRequest("a status update cannot be empty")

        def change(incident: Incident) -> None:
            self._require_open(incident)
            now = self.clock()
            communication = self.playbook_for(incident).communications.get(name)
            update = StatusUpdate(
                template=name, text=text[:3000], posted_by=actor.label, posted_at=now
            )
            if communication is not None:
                update.audience = list(communication.audience)
                update.impact = communication.impact
            incident.status_updates.append(update)
            incident.record(
                now,
                actor,
                "status-update",
                f"{name} to {audience_label(update.audience)}: {text.splitlines()[0][:200]}",
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def post_incident_document(self, incident_id: str) -> str:
        incident = await self.get(incident_id)
        playbook = self.playbook_for(incident)
        context = template_context(incident, playbook, self.config, self.clock())
        document = self.templates.render(playbook.post_incident_document, context)
        if incident.drill is None:
            return document
        # Said before anything else, so that nobody files a game day as a real outage.
        scored = score(incident, playbook, self.clock())
        banner = f"> **{DRILL}**: a game day, scenario '{incident.drill.scenario}'."
        section = ["", f"## {DRILL} score", "", *scored.lines()[1:], ""]
        return "\n".join([banner, "", document, *section])

    # --- post-incident checklist --------------------------------------------------------

    async def check_item(
        self, incident_id: str, key: str, actor: Actor, done: bool = True
    ) -> Incident:
        """Tick (or untick) a post-incident task; allowed once resolved, when the work happens."""

        def change(incident: Incident) -> None:
            _, text = checklist.find(self.playbook_for(incident), key)
            item = incident.checklist.setdefault(key, ChecklistItem())
            if item.done == done:
                who = f" by {item.done_by}" if item.done else ""
                raise InvalidRequest(f"'{text}' is already {'done' if done else 'open'}{who}")
            now = self.clock()
            item.done, item.done_by, item.done_at = (
                done,
                actor.label if done else "",
                now if done else None,
            )
            incident.record(now, actor, "checklist-done" if done else "checklist-reopened", text)

        return (await self._mutate(incident_id, change, actor))[0]

    async def assign_item(self, incident_id: str, key: str, owner: str, actor: Actor) -> Incident:
        """Give a post-incident task an owner (an empty owner unassigns it)."""
        owner = " ".join(owner.split())[:100]

        def change(incident: Incident) -> None:
            _, text = checklist.find(self.playbook_for(incident), key)
            incident.checklist.setdefault(key, ChecklistItem()).owner = owner
            incident.record(
                self.clock(), actor, "checklist-owner", f"{text}: {owner or 'unassigned'}"
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def link_ticket(self, incident_id: str, key: str, url: str, actor: Actor) -> Incident:
        """Remember the follow-up ticket made for a post-incident task; one per task."""

        def change(incident: Incident) -> None:
            _, text = checklist.find(self.playbook_for(incident), key)
            item = incident.checklist.setdefault(key, ChecklistItem())
            if item.ticket:
                raise InvalidRequest(f"'{text}' already has a ticket: {item.ticket}")
            item.ticket = url[:500]
            incident.record(self.clock(), actor, "checklist-ticket", f"{text}: {item.ticket}")

        return (await self._mutate(incident_id, change, actor))[0]
