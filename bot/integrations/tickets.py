"""Follow-up tickets for post-incident checklist items: a GitHub issue or a Jira issue."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Awaitable
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
# GitHub refuses a longer title.
GITHUB_TITLE = 256
# An @ before a name notifies that GitHub user or team; anyone can write checklist items.
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
# A zero-width space after the @ reads the same and mentions nobody.
_UNMENTIONED = "@\u200b"


@dataclass(frozen=True)
class Followup:
    """What a ticket says: the item, its owner and where the incident is."""

    incident: str
    incident_link: str
    item: str
    owner: str
    # The ticket's last line, searched for before filing: see `marker`.
    marker: str

    def title(self) -> str:
        return redact(f"[{self.incident}] {' '.join(self.item.split())}")[:250]

    def lines(self) -> list[str]:
        return [
            redact(f"Post-incident follow-up from {self.incident}: {self.item}"),
            f"Owner: {self.owner or 'unassigned'}",
            f"Incident: {self.incident_link or self.incident}",
            self.marker,
        ]


@dataclass(frozen=True)
class Ticket:
    """A created ticket: its key ("#12" or "OPS-7") and browse link."""

    key: str
    url: str


class Tracker(Protocol):
    async def find(self, followup: Followup) -> Ticket | None: ...

    async def create(self, followup: Followup) -> Ticket: ...


def marker(incident: Incident, key: str) -> str:
    """Names one item of one incident in its ticket: the incident's id alone repeats if the
    store is ever started afresh, its opening time does not."""
    return f"runbook-bot {incident.id} {key} {incident.opened_at:%Y%m%dT%H%M%SZ}"


def unmention(text: str) -> str:
    """The text with no @name GitHub would notify."""
    return _MENTION.sub(_UNMENTIONED, text)


class GitHubIssues:
    """POST /repos/{owner}/{repo}/issues with a bearer token; GET /search/issues to find one."""

    def __init__(self, config: TicketsConfig, token: str, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": GITHUB_API_VERSION,
        }

    async def find(self, followup: Followup) -> Ticket | None:
        # The search index trails a new issue by seconds; a retry comes after the claim's minute.
        query = f'"{followup.marker}" repo:{self.config.repo} is:issue in:body'
        answer = await _call(
            self.http.get(
                f"{self.config.base_url}/search/issues",
                params={"q": query, "per_page": "10"},
                headers=self.headers,
                timeout=TIMEOUT_S,
            ),
            "searching GitHub issues",
        )
        for issue in answer.get("items") or []:
            # The search matches words; only the marker itself is this item's ticket.
            if isinstance(issue, dict) and followup.marker in str(issue.get("body") or ""):
                return _github_ticket(issue, "searching GitHub issues")
        return None

    async def create(self, followup: Followup) -> Ticket:
        body = {
            "title": unmention(followup.title())[:GITHUB_TITLE],
            "body": unmention("\n\n".join(followup.lines())),
            "labels": self.config.labels,
        }
        url = f"{self.config.base_url}/repos/{self.config.repo}/issues"
        answer = await _call(
            self.http.post(url, json=body, headers=self.headers, timeout=TIMEOUT_S),
            "creating the GitHub issue",
        )
        return _github_ticket(answer, "creating the GitHub issue")


class JiraIssues:
    """POST /rest/api/3/issue with basic auth and the description in Atlassian Document Format;
    POST /rest/api/3/search/jql to find one.

    Text in ADF is only text: a mention is a node of its own, so an @name or [~name] in an
    item notifies nobody and is sent as written.
    """

    def __init__(self, config: TicketsConfig, token: str, http: httpx.AsyncClient) -> None:
        self.config = config
        self.token = token
        self.http = http
        pair = base64.b64encode(f"{config.email}:{token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {pair}", "Accept": "application/json"}

    async def find(self, followup: Followup) -> Ticket | None:
        # An exact phrase is quoted inside the JQL string; the marker holds no quote or backslash.
        jql = f'project = "{self.config.project}" AND description ~ "\\"{followup.marker}\\""'
        body = {"jql": jql, "fields": ["description"], "maxResults": 10}
        answer = await _call(
            self.http.post(
                f"{self.config.base_url}/rest/api/3/search/jql",
                json=body,
                headers=self.headers,
                timeout=TIMEOUT_S,
            ),
            "searching Jira issues",
        )
        for issue in answer.get("issues") or []:
            if not isinstance(issue, dict) or not isinstance(issue.get("key"), str):
                continue
            description = (issue.get("fields") or {}).get("description")
            if any(followup.marker in text for text in _adf_texts(description)):
                return Ticket(issue["key"], f"{self.config.base_url}/browse/{issue['key']}")
        return None

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
        url = f"{self.config.base_url}/rest/api/3/issue"
        answer = await _call(
            self.http.post(url, json={"fields": fields}, headers=self.headers, timeout=TIMEOUT_S),
            "creating the Jira issue",
        )
        key = answer.get("key")
        if not isinstance(key, str) or not key:
            raise IntegrationError("creating the Jira issue: no key in the answer")
        return Ticket(key, f"{self.config.base_url}/browse/{key}")


async def file_ticket(
    engine: Engine,
    incident: Incident,
    key: str,
    actor: Actor,
    incident_link: str,
    owner: str = "",
) -> Incident:
    """Create the item's ticket once and store its link on the item; IntegrationError when the
    tracker fails (nothing is stored, so it can be tried again), InvalidRequest when it has one.
    `owner` is how the ticket names the item's owner (the stored owner when empty)."""
    _, text = checklist.find(engine.playbook_for(incident), key)
    state = incident.checklist.get(key, ChecklistItem())
    if state.ticket:
        raise InvalidRequest(f"this item already has a ticket: {state.ticket}")
    claim, holder = f"ticket:{incident.id}:{key}", uuid.uuid4().hex
    if not await engine.store.claim(claim, holder, CLAIM_S):
        raise InvalidRequest("a ticket for this item is being created already")
    followup = Followup(
        incident.id, incident_link, text, owner or state.owner, marker(incident, key)
    )
    try:
        async with httpx.AsyncClient() as http:
            filing = tracker(engine.config.tickets, http)
            # A ticket an earlier try filed but could not store (the store went down) is adopted.
            made = await filing.find(followup) or await filing.create(followup)
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


def _github_ticket(issue: dict[str, Any], what: str) -> Ticket:
    number, link = issue.get("number"), issue.get("html_url")
    if not isinstance(number, int) or not isinstance(link, str):
        raise IntegrationError(f"{what}: no number or html_url in the answer")
    return Ticket(f"#{number}", link)


def _adf_texts(node: Any) -> list[str]:
    """The text of every text node in an ADF document, in order."""
    if isinstance(node, list):
        return [text for child in node for text in _adf_texts(child)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "text" and isinstance(node.get("text"), str):
        return [node["text"]]
    return _adf_texts(node.get("content"))


async def _call(request: Awaitable[httpx.Response], what: str) -> dict[str, Any]:
    """The JSON object a tracker answered; IntegrationError in one line otherwise."""
    try:
        response = await request
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
