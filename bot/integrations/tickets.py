"""Follow-up tickets for post-incident checklist items: a GitHub issue or a Jira issue."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bot.config import TicketsConfig
from bot.engine import checklist
from bot.engine.engine import Engine
from bot.engine.incident import Actor, ChecklistItem, Incident
from bot.errors import InvalidRequest
from bot.integrations.errors import IntegrationError, check, failure
from bot.redact import redact

TIMEOUT_S = 10.0
# Held while a ticket is being created so a second click cannot file the same item twice;
# longer than the tracker's timeout, short enough that a crashed replica's claim runs out.
CLAIM_S = 60.0
GITHUB_API_VERSION = "2022-11-28"


@dataclass(frozen=True)
class Followup:
    """What a ticket says: the item, its owner and where the incident is."""

    incident: str
    incident_link: str
    item: str
    owner: str

    def title(self) -> str:
        return redact(f"[{self.incident}] {' '.join(self.item.split())}")[:250]

    def lines(self) -> list[str]:
        return [
            redact(f"Post-incident follow-up from {self.incident}: {self.item}"),
            f"Owner: {self.owner or 'unassigned'}",
            f"Incident: {self.incident_link or self.incident}",
        ]


@dataclass(frozen=True)
class Ticket:
    """A created ticket: its key ("#12" or "OPS-7") and browse link."""

    key: str
    url: str


class Tracker(Protocol):
    async def create(self, followup: Followup) -> Ticket: ...


class GitHubIssues:
    """POST /repos/{owner}/{repo}/issues with a bearer token."""

    def __init__(self, config: TicketsConfig, token: str, http: httpx.AsyncClient) -> None:
        self.config = config
        self.token = token
        self.http = http

    async def create(self, followup: Followup) -> Ticket:
        body = {
            "title": followup.title(),
            "body": "\n\n".join(followup.lines()),
            "labels": self.config.labels,
        }
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": GITHUB_API_VERSION,
        }
        url = f"{self.config.base_url}/repos/{self.config.repo}/issues"
        answer = await _post(self.http, url, body, headers, "creating the GitHub issue")
        number, link = answer.get("number"), answer.get("html_url")
        if not isinstance(number, int) or not isinstance(link, str):
            raise IntegrationError("creating the GitHub issue: no number or html_url in the answer")
        return Ticket(f"#{number}", link)


class JiraIssues:
    """POST /rest/api/3/issue with basic auth and the description in Atlassian Document Format."""

    def __init__(self, config: TicketsConfig, token: str, http: httpx.AsyncClient) -> None:
        self.config = config
        self.token = token
        self.http = http

    async def create(self, followup: Followup) -> Ticket:
        fields: dict[str, Any] = {
            "project": {"key": self.config.project},
            "summary": followup.title(),
            "issuetype": {"name": self.config.issue_type},
            "description": adf(followup.lines()),
        }
        if self.config.labels:
            # Jira labels cannot hold spaces.
            fields["labels"] = ["-".join(label.split()) for label in self.config.labels]
        pair = base64.b64encode(f"{self.config.email}:{self.token}".encode()).decode()
        headers = {"Authorization": f"Basic {pair}", "Accept": "application/json"}
        url = f"{self.config.base_url}/rest/api/3/issue"
        answer = await _post(self.http, url, {"fields": fields}, headers, "creating the Jira issue")
        key = answer.get("key")
        if not isinstance(key, str) or not key:
            raise IntegrationError("creating the Jira issue: no key in the answer")
        return Ticket(key, f"{self.config.base_url}/browse/{key}")


async def file_ticket(
    engine: Engine, incident: Incident, key: str, actor: Actor, incident_link: str
) -> Incident:
    """Create the item's ticket once and store its link on the item; IntegrationError when the
    tracker fails (nothing is stored, so it can be tried again), InvalidRequest when it has one."""
    _, text = checklist.find(engine.playbook_for(incident), key)
    state = incident.checklist.get(key, ChecklistItem())
    if state.ticket:
        raise InvalidRequest(f"this item already has a ticket: {state.ticket}")
    claim, holder = f"ticket:{incident.id}:{key}", uuid.uuid4().hex
    if not await engine.store.claim(claim, holder, CLAIM_S):
        raise InvalidRequest("a ticket for this item is being created already")
    followup = Followup(incident.id, incident_link, text, state.owner)
    try:
        async with httpx.AsyncClient() as http:
            made = await tracker(engine.config.tickets, http).create(followup)
    except IntegrationError:
        await engine.store.release(claim, holder)
        raise
    # The claim is kept until it runs out; by then the stored link refuses a second ticket.
    return await engine.link_ticket(incident.id, key, made.url, actor)


def adf(paragraphs: list[str]) -> dict[str, Any]:
    """A document of plain-text paragraphs, the smallest valid Atlassian Document Format."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": text}]}
            for text in paragraphs
            if text
        ],
    }


def tracker(config: TicketsConfig | None, http: httpx.AsyncClient) -> Tracker:
    """The configured tracker; IntegrationError when none is configured or its token is unset."""
    if config is None:
        raise IntegrationError("no ticket tracker configured (the config's tickets: section)")
    token = config.token()
    if not token:
        raise IntegrationError(f"the ticket tracker's token is not set (${config.token_env})")
    if config.kind == "github":
        return GitHubIssues(config, token, http)
    return JiraIssues(config, token, http)


async def _post(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str], what: str
) -> dict[str, Any]:
    try:
        response = await http.post(url, json=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise failure(exc, what) from None
    check(response, what)
    try:
        answer = response.json()
    except ValueError:
        raise IntegrationError(f"{what}: the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise IntegrationError(f"{what}: the answer is not a JSON object")
    return answer
