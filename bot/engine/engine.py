"""The incident engine: every flow an adapter offers is one method here."""

from __future__ import annotations

from bot.crashpoints import crash_point
from bot.engine.communication import CommunicationFlow
from bot.engine.diagnostics import DiagnosticsFlow
from bot.engine.drill_score import DrillScore, score
from bot.engine.escalation import EscalationFlow
from bot.engine.incident import BOT, Actor, DrillMark, Incident
from bot.engine.pins import PinFlow
from bot.engine.recovery import RecoveryFlow
from bot.engine.redaction import redact_incident
from bot.engine.roles import RoleFlow
from bot.engine.severity import SeverityFlow, parse_severity, severity_label, update_interval
from bot.engine.stats import Stats, incident_stats, observe_resolved
from bot.engine.targets import Target
from bot.errors import InvalidRequest, NotFound
from bot.logs import working_on
from bot.metrics import INCIDENTS_OPENED, INCIDENTS_RESOLVED
from bot.store.base import Record


class Engine(
    DiagnosticsFlow,
    RecoveryFlow,
    CommunicationFlow,
    EscalationFlow,
    RoleFlow,
    SeverityFlow,
    PinFlow,
):
    """Opens, walks and resolves incidents; each concern lives in its own module."""

    async def open(
        self,
        playbook_id: str,
        service: str,
        opened_by: Actor,
        summary: str = "",
        severity: str | None = None,
        links: dict[str, str] | None = None,
        *,
        drill: tuple[DrillMark, Target] | None = None,
    ) -> Incident:
        """Open an incident at `severity` (1-4 or its name), else the playbook's default;
        `links` are stored with it (an adapter's marks, such as a room still to be made).

        A drill brings its mark and its own sandbox, which only this process can reach.
        """
        playbook = self.playbook(playbook_id)
        chosen = parse_severity(severity) if severity is not None else playbook.severity
        binding = drill[1].binding if drill is not None else self.config.binding(service)
        if binding.playbooks and playbook.id not in binding.playbooks:
            raise InvalidRequest(
                f"service '{service}' is not bound to playbook '{playbook.id}' "
                f"(its playbooks: {', '.join(binding.playbooks)})"
            )
        if playbook.platform not in ("any", binding.platform):
            raise InvalidRequest(
                f"playbook '{playbook.id}' is for {playbook.platform} services; "
                f"'{service}' runs on {binding.platform}"
            )
        # Checked before a number is handed out too, so a refused opening leaves no gap.
        self._before_write()
        incident_id = f"INC-{await self.store.next_number():04d}"
        working_on(incident_id)
        now = self.clock()
        incident = Incident(
            id=incident_id,
            playbook_id=playbook.id,
            service=service,
            summary=summary.strip()[:500],
            severity=chosen,
            opened_at=now,
            opened_by=opened_by.label,
            links=dict(links or {}),
        )
        if drill is not None:
            incident.drill = drill[0].model_copy(update={"owner": self.owner})
        run_as = self.playbook_for(incident)
        incident.status_update_seconds = update_interval(
            self.config, chosen, run_as
        ).total_seconds()
        incident.record(
            now,
            opened_by,
            "opened",
            ("DRILL: " if drill is not None else "")
            + f"{playbook.title} for {service} at {severity_label(chosen)}"
            + (f": {incident.summary}" if incident.summary else ""),
        )
        redact_incident(incident)
        self._before_write()
        await self.store.insert(Record(incident.id, incident.status, 1, incident.model_dump_json()))
        if drill is not None:
            self.drill_targets[incident_id] = drill[1]
        else:
            INCIDENTS_OPENED.inc(playbook=incident.playbook_id)
        self._changed(incident)
        return incident

    async def claim_commander(self, incident_id: str, actor: Actor) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            before = incident.commander
            incident.commander = actor.label
            handed = f" (handed over from {before})" if before and before != actor.label else ""
            incident.record(
                self.clock(), actor, "commander", f"{actor.label} is incident commander{handed}"
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def advance(
        self, incident_id: str, actor: Actor, stage_id: str | None = None
    ) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            stages = self.playbook_for(incident).stages
            if stage_id is None:
                target = incident.stage_index + 1
                if target >= len(stages):
                    raise InvalidRequest("this is the last stage")
            else:
                ids = [s.id for s in stages]
                if stage_id not in ids:
                    raise NotFound(f"no stage '{stage_id}' (stages: {', '.join(ids)})")
                target = ids.index(stage_id)
            incident.stage_index = target
            incident.record(self.clock(), actor, "stage", f"moved to stage: {stages[target].title}")

        return (await self._mutate(incident_id, change, actor))[0]

    async def resolve(
        self, incident_id: str, actor: Actor, root_cause: str = "", resolution: str = ""
    ) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            now = self.clock()
            incident.status = "resolved"
            incident.resolved_at = now
            incident.root_cause = root_cause.strip()[:2000]
            incident.resolution = resolution.strip()[:2000]
            incident.mitigated_at = incident.mitigated_at or now
            for approval in incident.approvals.values():
                if approval.state == "pending":
                    approval.state = "expired"
            incident.record(now, actor, "resolved", incident.resolution or "resolved")

        resolved = (await self._mutate(incident_id, change, actor))[0]
        crash_point("resolved")
        if resolved.drill is None:
            INCIDENTS_RESOLVED.inc(playbook=resolved.playbook_id)
        observe_resolved(resolved)
        return resolved

    async def set_links(self, incident_id: str, links: dict[str, str]) -> Incident:
        """Remember where an adapter shows the incident; not a timeline event."""

        def change(incident: Incident) -> None:
            incident.links.update(links)

        return (await self._mutate(incident_id, change, BOT))[0]

    async def note(self, incident_id: str, actor: Actor, event: str, text: str) -> Incident:
        """Record something that happened outside the bot, e.g. the alert resolving."""

        def change(incident: Incident) -> None:
            incident.record(self.clock(), actor, event, text.strip()[:500])

        return (await self._mutate(incident_id, change, actor))[0]

    async def drill_score(self, incident_id: str) -> DrillScore:
        """A drill's score so far, or at its resolve."""
        incident = await self.get(incident_id)
        if incident.drill is None:
            raise InvalidRequest(f"{incident.id} is not a drill")
        return score(incident, self.playbook_for(incident), self.clock())

    async def stats(self, window: str | None = None) -> Stats:
        """Response times and fix outcomes of incidents opened within the window (7d, 30d, 90d)."""
        incidents = await self.list_incidents(None)
        return incident_stats(incidents, window, self.clock(), drills=self.practice_store)
