"""Severity levels, chosen at opening and changed mid-incident, and what each one brings."""

from __future__ import annotations

from datetime import timedelta

from bot.config import Config
from bot.engine.core import EngineCore
from bot.engine.incident import Actor, Incident
from bot.errors import InvalidRequest
from bot.playbooks.models import Playbook

# SEV1 is the worst; playbooks name their default severity by the word.
SEVERITIES: dict[int, str] = {1: "critical", 2: "high", 3: "medium", 4: "low"}
LEVELS: dict[str, int] = {name: level for level, name in SEVERITIES.items()}


def parse_severity(raw: str | int) -> str:
    """`2`, `sev2`, `SEV2` or `high` -> `high`; InvalidRequest with the choices otherwise."""
    text = str(raw).strip().lower().removeprefix("sev")
    if text in LEVELS:
        return text
    if text.isdigit() and int(text) in SEVERITIES:
        return SEVERITIES[int(text)]
    choices = ", ".join(f"{level} ({name})" for level, name in SEVERITIES.items())
    raise InvalidRequest(f"severity must be one of {choices}, not '{str(raw)[:20]}'")


def split_severity(words: list[str]) -> tuple[list[str], str | None]:
    """Take `--sev N` (or `--sev=N`) out of a command's words; the rest keep their order."""
    rest: list[str] = []
    found: str | None = None
    index = 0
    while index < len(words):
        word = words[index]
        if word.lower() == "--sev":
            if index + 1 >= len(words):
                raise InvalidRequest("--sev needs a severity: 1 (critical) to 4 (low)")
            found, index = words[index + 1], index + 2
            continue
        if word.lower().startswith("--sev="):
            found = word.split("=", 1)[1]
        else:
            rest.append(word)
        index += 1
    if found is not None:
        parse_severity(found)
    return rest, found


def severity_label(name: str) -> str:
    """`SEV2 high`, as headlines and announcements show it."""
    return f"SEV{LEVELS[name]} {name}" if name in LEVELS else name


def update_interval(config: Config, severity: str, playbook: Playbook) -> timedelta:
    """How often status updates are due at this severity: the config's, else the playbook's."""
    policy = config.severities.get(LEVELS.get(severity, 0))
    if policy is not None and policy.status_update_minutes is not None:
        return timedelta(minutes=policy.status_update_minutes)
    return playbook.status_update_interval


def invited(config: Config, severity: str) -> list[str]:
    """Who the config invites to the room at this severity: user-group and user ids."""
    policy = config.severities.get(LEVELS.get(severity, 0))
    return list(policy.invite) if policy is not None else []


class SeverityFlow(EngineCore):
    """Changing an incident's severity, on the timeline with the old and new level."""

    async def set_severity(self, incident_id: str, raw: str | int, actor: Actor) -> Incident:
        severity = parse_severity(raw)

        def change(incident: Incident) -> None:
            self._require_open(incident)
            if incident.severity == severity:
                raise InvalidRequest(f"{incident.id} is already {severity_label(severity)}")
            before = incident.severity
            incident.severity = severity
            interval = update_interval(self.config, severity, self.playbook_for(incident))
            incident.status_update_seconds = interval.total_seconds()
            incident.record(
                self.clock(),
                actor,
                "severity",
                f"severity {severity_label(before)} -> {severity_label(severity)}",
            )

        return (await self._mutate(incident_id, change, actor))[0]
