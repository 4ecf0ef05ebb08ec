"""Stand-ins for GitHub's and Jira's create-issue and search APIs that check requests as the
docs say.

GitHub: POST /repos/{owner}/{repo}/issues, `Authorization: Bearer`, `Accept:
application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, a JSON body with a string
title (at most 256 characters), a string body and a list of string labels; 201 with `number`
and `html_url`, 401 for a bad token, 422 for an invalid body. GET /search/issues with the same
headers, `q` (required; at most 256 characters besides qualifiers) and `per_page` (at most 100);
200 with `total_count`, `incomplete_results` and `items` (issues with `number`, `html_url`,
`body`), 422 when `q` is missing or names a repository that cannot be searched. A quoted phrase
matches its words in order, as GitHub's index does, not the exact characters.

Jira Cloud: POST /rest/api/3/issue with basic auth (email:api-token), `{"fields": {project:
{key}, summary, issuetype: {name}, description}}` with the description in Atlassian Document
Format; 201 with `id`, `key` and `self`. POST /rest/api/3/search/jql with `jql` (bounded by a
project here), `fields` (a list of field names) and `maxResults` (1 to 5000); 200 with `issues`
(`id`, `key`, `self` and the fields asked for) and `isLast`; 400 with `errorMessages` for JQL it
cannot parse. The old /rest/api/3/search answers 410 Gone, as Jira Cloud's does since its
removal. A text search `~ "\"phrase\""` matches the phrase's words in order.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# The query shapes the bot sends; anything else is refused, so a change to them shows here.
_GITHUB_QUERY = re.compile(r'^"(?P<phrase>[^"]+)" repo:(?P<repo>\S+) is:issue in:body$')
_JQL = re.compile(
    r'^project = "?(?P<project>[A-Z][A-Z0-9_]*)"? AND description ~ "\\"(?P<phrase>[^"\\]+)\\""$'
)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class TrackerStandIn:
    """Both trackers on one free loopback port; `fail_with` makes every create answer that,
    `fail_search_with` every search; `on_create` runs as an issue is filed."""

    token: str
    email: str = "bot@example.com"
    repo: str = "acme/ops"
    project: str = "OPS"
    fail_with: int = 0
    fail_search_with: int = 0
    delay_s: float = 0.0
    on_create: Callable[[], None] | None = None
    created: list[dict[str, Any]] = field(default_factory=list)
    # The GitHub `q` or Jira `jql` of each search, in order.
    searched: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/repos/{owner}/{repo}/issues", self._github)
        app.router.add_route("*", "/search/issues", self._github_search)
        app.router.add_route("*", "/rest/api/3/issue", self._jira)
        app.router.add_route("*", "/rest/api/3/search/jql", self._jira_search)
        app.router.add_route("*", "/rest/api/3/search", self._jira_old_search)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _refuse(self, status: int, reason: str) -> web.Response:
        self.refused.append(reason)
        return web.json_response({"message": reason}, status=status)

    async def _body(self, request: web.Request) -> Any:
        if request.content_type != "application/json":
            return None
        try:
            return json.loads(await request.text())
        except ValueError:
            return None

    def _github_refusal(self, request: web.Request, method: str) -> web.Response | None:
        if request.method != method:
            return self._refuse(404, f"method {request.method}")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._refuse(401, "Bad credentials")
        if request.headers.get("Accept") != "application/vnd.github+json":
            return self._refuse(415, "Accept is not application/vnd.github+json")
        if request.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            return self._refuse(400, "X-GitHub-Api-Version")
        return None

    async def _github(self, request: web.Request) -> web.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        refusal = self._github_refusal(request, "POST")
        if refusal is not None:
            return refusal
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if repo != self.repo:
            return self._refuse(404, f"no repo {repo}")
        body = await self._body(request)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("title"), str)
            or not body["title"]
            or len(body["title"]) > 256
            or not isinstance(body.get("body", ""), str)
            or not all(isinstance(label, str) for label in body.get("labels", []))
        ):
            return self._refuse(422, "Validation Failed")
        if self.fail_with:
            return web.json_response({"message": "failure"}, status=self.fail_with)
        if self.on_create is not None:
            self.on_create()
        self.created.append(body)
        return web.json_response(self._github_issue(len(self.created)), status=201)

    def _github_issue(self, number: int) -> dict[str, Any]:
        body = self.created[number - 1]
        return {
            "id": 1000 + number,
            "number": number,
            "title": body["title"],
            "body": body.get("body"),
            "state": "open",
            "url": f"{self.url}/repos/{self.repo}/issues/{number}",
            "html_url": f"https://github.com/{self.repo}/issues/{number}",
        }

    async def _github_search(self, request: web.Request) -> web.Response:
        refusal = self._github_refusal(request, "GET")
        if refusal is not None:
            return refusal
        query = request.query.get("q")
        per_page = request.query.get("per_page", "30")
        if not query or not per_page.isdigit() or not 1 <= int(per_page) <= 100:
            return self._refuse(422, "Validation Failed")
        self.searched.append(query)
        found = _GITHUB_QUERY.match(query)
        if found is None or len(found["phrase"]) > 256:
            return self._refuse(422, f"unexpected query {query!r}")
        if found["repo"] != self.repo:
            return self._refuse(422, "The listed repositories cannot be searched")
        if self.fail_search_with:
            return web.json_response({"message": "failure"}, status=self.fail_search_with)
        items = [
            self._github_issue(number)
            for number, body in enumerate(self.created, start=1)
            if _has_phrase(str(body.get("body") or ""), found["phrase"])
        ][: int(per_page)]
        return web.json_response(
            {"total_count": len(items), "incomplete_results": False, "items": items}
        )

    async def _jira(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return self._refuse(405, f"method {request.method}")
        pair = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {pair}":
            return self._refuse(401, "Client must be authenticated")
        body = await self._body(request)
        fields = body.get("fields") if isinstance(body, dict) else None
        problems = _jira_problems(fields, self.project)
        if problems:
            return web.json_response({"errorMessages": [], "errors": problems}, status=400)
        if self.fail_with:
            return web.json_response({"errorMessages": ["failure"]}, status=self.fail_with)
        assert isinstance(fields, dict)
        if self.on_create is not None:
            self.on_create()
        self.created.append(fields)
        key = f"{self.project}-{len(self.created)}"
        return web.json_response(
            {"id": str(10000 + len(self.created)), "key": key, "self": f"{self.url}/{key}"},
            status=201,
        )

    async def _jira_search(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return self._refuse(405, f"method {request.method}")
        pair = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {pair}":
            return self._refuse(401, "Client must be authenticated")
        body = await self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("jql"), str):
            return self._jira_error("The JQL query is required.")
        wanted = body.get("fields", ["id"])
        limit = body.get("maxResults", 50)
        if not isinstance(wanted, list) or not all(isinstance(f, str) for f in wanted):
            return self._jira_error("fields must be a list of field names")
        if not isinstance(limit, int) or not 1 <= limit <= 5000:
            return self._jira_error("maxResults must be between 1 and 5000")
        self.searched.append(body["jql"])
        found = _JQL.match(body["jql"])
        if found is None:
            return self._jira_error(f"Error in the JQL Query: unexpected {body['jql']!r}")
        if found["project"] != self.project:
            return self._jira_error(f"The value '{found['project']}' does not exist for project")
        if self.fail_search_with:
            return web.json_response({"errorMessages": ["failure"]}, status=self.fail_search_with)
        issues = []
        for number, fields in enumerate(self.created, start=1):
            if _has_phrase(" ".join(_adf_texts(fields.get("description"))), found["phrase"]):
                key = f"{self.project}-{number}"
                issues.append(
                    {
                        "id": str(10000 + number),
                        "key": key,
                        "self": f"{self.url}/rest/api/3/issue/{10000 + number}",
                        "fields": {f: fields[f] for f in wanted if f in fields},
                    }
                )
        return web.json_response({"issues": issues[:limit], "isLast": len(issues) <= limit})

    async def _jira_old_search(self, request: web.Request) -> web.Response:
        return self._refuse(410, "The requested API has been removed; use /rest/api/3/search/jql")

    def _jira_error(self, message: str) -> web.Response:
        self.refused.append(message)
        return web.json_response({"errorMessages": [message], "errors": {}}, status=400)


def _jira_problems(fields: Any, project: str) -> dict[str, str]:
    if not isinstance(fields, dict):
        return {"fields": "missing"}
    problems = {}
    if fields.get("project") != {"key": project}:
        problems["project"] = "valid project is required"
    if not isinstance(fields.get("summary"), str) or not fields["summary"]:
        problems["summary"] = "You must specify a summary of the issue."
    elif len(fields["summary"]) > 255 or "\n" in fields["summary"]:
        problems["summary"] = "Summary must be less than 255 characters, on one line."
    issuetype = fields.get("issuetype")
    if not isinstance(issuetype, dict) or not isinstance(issuetype.get("name"), str):
        problems["issuetype"] = "valid issue type is required"
    if not _is_adf(fields.get("description")):
        problems["description"] = "Operation value must be an Atlassian Document."
    labels = fields.get("labels", [])
    if not isinstance(labels, list) or any(
        not isinstance(label, str) or " " in label for label in labels
    ):
        problems["labels"] = "labels must be strings without spaces"
    return problems


def _has_phrase(text: str, phrase: str) -> bool:
    """The phrase's words in order in the text, case and punctuation aside."""
    words, wanted = _WORD.findall(text.lower()), _WORD.findall(phrase.lower())
    return bool(wanted) and any(
        words[start : start + len(wanted)] == wanted for start in range(len(words))
    )


def _adf_texts(node: Any) -> list[str]:
    if isinstance(node, list):
        return [text for child in node for text in _adf_texts(child)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "text":
        return [str(node.get("text", ""))]
    return _adf_texts(node.get("content"))


def _is_adf(node: Any) -> bool:
    """A doc of version 1 whose paragraphs hold text nodes: what the bot is meant to send."""
    if not isinstance(node, dict) or node.get("type") != "doc" or node.get("version") != 1:
        return False
    content = node.get("content")
    if not isinstance(content, list) or not content:
        return False
    for paragraph in content:
        if not isinstance(paragraph, dict) or paragraph.get("type") != "paragraph":
            return False
        for text in paragraph.get("content", []):
            if (
                not isinstance(text, dict)
                or text.get("type") != "text"
                or not isinstance(text.get("text"), str)
                or not text["text"]
            ):
                return False
    return True
