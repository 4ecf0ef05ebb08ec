"""Outgoing pages in PagerDuty Events v2 format, for escalation levels configured to page."""

from __future__ import annotations

import httpx

from bot.config import Config, PagingConfig
from bot.engine.incident import Incident
from bot.integrations.errors import check, failure
from bot.playbooks.models import Playbook

SOURCE = "runbook-bot"
# Events v2 knows only these; playbooks may say "high" and the like.
_SEVERITIES = {"critical", "error", "warning", "info"}
_ALIASES = {
    "high": "error",
    "major": "error",
    "medium": "warning",
    "minor": "warning",
    "low": "info",
}


def severity(playbook_severity: str) -> str:
    name = playbook_severity.strip().lower()
    return name if name in _SEVERITIES else _ALIASES.get(name, "critical")


def reached_levels(incident: Incident) -> set[int]:
    """Levels escalated to by hand or whose escalation nudge has fired (keys in timers.py)."""
    fired = {key.split("@", 1)[0] for key in incident.timers.fired}
    levels = set(incident.timers.escalated)
    for key in fired:
        if key.startswith("escalation-") and key.removeprefix("escalation-").isdigit():
            levels.add(int(key.removeprefix("escalation-")))
    return levels


def levels_to_page(incident: Incident, config: Config, playbook: Playbook) -> set[int]:
    """Reached levels that page: by the playbook (`page: true`) or by their config contact."""
    levels = {level.level: level for level in playbook.escalation}

    def pages(number: int) -> bool:
        found = levels.get(number)
        if found is not None and found.page:
            return True
        contact = config.contact(number, found.title if found is not None else "")
        return contact is not None and contact.page

    return {level for level in reached_levels(incident) if pages(level)}


def dedup_key(incident: Incident, level: int) -> str:
    return f"{incident.id}-level-{level}"


class Pager:
    def __init__(self, config: PagingConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    async def trigger(self, incident: Incident, level: int, summary: str) -> None:
        what = f"paging level {level} failed"
        event = {
            "routing_key": self.config.routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key(incident, level),
            "payload": {
                "summary": summary[:1024],
                "source": SOURCE,
                "severity": severity(incident.severity),
                "custom_details": {
                    "incident": incident.id,
                    "playbook": incident.playbook_id,
                    "service": incident.service,
                    "level": level,
                },
            },
        }
        try:
            response = await self.http.post(self.config.url, json=event)
        except httpx.HTTPError as exc:
            raise failure(exc, what) from None
        check(response, what)
