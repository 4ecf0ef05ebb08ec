"""Stand-ins for GitHub's and Jira's create-issue APIs that check requests as the docs say.

GitHub: POST /repos/{owner}/{repo}/issues, `Authorization: Bearer`, `Accept:
application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, a JSON body with a string
title, a string body and a list of string labels; 201 with `number` and `html_url`, 401 for a
bad token, 422 for an invalid body. Jira Cloud: POST /rest/api/3/issue with basic auth
(email:api-token), `{"fields": {project: {key}, summary, issuetype: {name}, description}}` with
the description in Atlassian Document Format; 201 with `id`, `key` and `self`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class TrackerStandIn:
    """Both trackers on one free loopback port; `fail_with` makes every create answer that."""

    token: str
    email: str = "bot@example.com"
    repo: str = "acme/ops"
    project: str = "OPS"
    fail_with: int = 0
    delay_s: float = 0.0
    created: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/repos/{owner}/{repo}/issues", self._github)
        app.router.add_route("*", "/rest/api/3/issue", self._jira)
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

    async def _github(self, request: web.Request) -> web.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if request.method != "POST":
            return self._refuse(404, f"method {request.method}")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._refuse(401, "Bad credentials")
        if request.headers.get("Accept") != "application/vnd.github+json":
            return self._refuse(415, "Accept is not application/vnd.github+json")
        if request.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            return self._refuse(400, "X-GitHub-Api-Version")
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if repo != self.repo:
            return self._refuse(404, f"no repo {repo}")
        body = await self._body(request)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("title"), str)
            or not body["title"]
            or not isinstance(body.get("body", ""), str)
            or not all(isinstance(label, str) for label in body.get("labels", []))
        ):
            return self._refuse(422, "Validation Failed")
        if self.fail_with:
            return web.json_response({"message": "failure"}, status=self.fail_with)
        self.created.append(body)
        number = len(self.created)
        return web.json_response(
            {
                "id": 1000 + number,
                "number": number,
                "title": body["title"],
                "state": "open",
                "url": f"{self.url}/repos/{repo}/issues/{number}",
                "html_url": f"https://github.com/{repo}/issues/{number}",
            },
            status=201,
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
        self.created.append(fields)
        key = f"{self.project}-{len(self.created)}"
        return web.json_response(
            {"id": str(10000 + len(self.created)), "key": key, "self": f"{self.url}/{key}"},
            status=201,
        )


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
