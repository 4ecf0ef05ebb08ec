"""A local stand-in for the Slack Web API that records every call and answers as Slack does.

It runs in the test's own event loop: `async with SlackApiStandIn() as api:` then give
`api.url` (ends in `/api/`) to `AsyncWebClient(base_url=...)` or as SLACK_API_URL.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.support.slack_content import ContentMethods
from tests.support.slack_history import HistoryMethods
from tests.support.slack_workspace import BOT_USER_ID, Channel, SlackError, Upload, Workspace

DEFAULT_BOT_TOKEN = "xoxb-test-bot-token"
DEFAULT_APP_TOKEN = "xapp-test-app-token"
RESPONSE_URL_METHOD = "response_url"


@dataclass(frozen=True)
class ApiCall:
    """One request as the stand-in received and answered it."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]


@dataclass
class _RateLimit:
    times: int
    retry_after: int


@dataclass
class _Fault:
    """The next `times` calls of a method fail this way."""

    times: int
    # "html": an HTML 500 page (as a proxy in front of Slack answers); "drop": the connection
    # closes without an answer, after the call took effect when `after` is set.
    kind: str
    content_type: str = "text/html"
    after: bool = True


HTML_500 = "<html><head><title>500 Internal Server Error</title></head><body>oops</body></html>"


class SlackApiStandIn:
    """An HTTP server on 127.0.0.1:<free port> that behaves like slack.com/api for the bot."""

    def __init__(
        self, *, bot_token: str = DEFAULT_BOT_TOKEN, app_token: str = DEFAULT_APP_TOKEN
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.workspace = Workspace()
        self._content = ContentMethods(self.workspace)
        history = HistoryMethods(self.workspace).methods
        self._methods = {**self.workspace.methods, **self._content.methods, **history}
        self.calls: list[ApiCall] = []
        self.socket_url: str | None = None
        self._limits: dict[str, _RateLimit] = {}
        self._faults: dict[str, _Fault] = {}
        self._response_channels: dict[str, str | None] = {}
        self._response_ids = itertools.count(1)
        self._recorded = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The Web API base URL, as `AsyncWebClient(base_url=...)` takes it."""
        return f"{self.origin}/api/"

    async def start(self) -> None:
        """Listens on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_post("/response/{response_id}", self._response)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.workspace.origin = self.origin

    async def stop(self) -> None:
        """Closes the server and every open connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackApiStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answers the next `times` calls of `method` with HTTP 429 and Retry-After."""
        self._limits[method] = _RateLimit(times, retry_after)

    def fail_html(self, method: str, *, times: int = 1, content_type: str = "text/html") -> None:
        """Answers the next `times` calls of `method` with an HTML 500 page under `content_type`
        (a proxy's error page; some label it application/json)."""
        self._faults[method] = _Fault(times, "html", content_type=content_type)

    def drop_connection(self, method: str, *, times: int = 1, after: bool = True) -> None:
        """Closes the connection of the next `times` calls of `method` without answering; with
        `after` the call has taken effect (and is recorded) first, as when Slack posted but the
        answer was lost."""
        self._faults[method] = _Fault(times, "drop", after=after)

    def response_url(self, channel: str | None = None) -> str:
        """A fresh response_url; posts to it are recorded as calls of method "response_url"."""
        response_id = f"R{next(self._response_ids):06d}"
        self._response_channels[response_id] = channel
        return f"{self.origin}/response/{response_id}"

    def add_channel(
        self,
        name: str,
        *,
        members: list[str] | None = None,
        is_private: bool = False,
        channel_id: str | None = None,
    ) -> str:
        """Adds an existing channel (the bot is in it only if listed); returns its ID."""
        return self.workspace.add_channel(
            name, channel_id=channel_id, members=members, is_private=is_private
        )

    def add_user(self, user_id: str, name: str, real_name: str = "") -> None:
        """Adds a user that users.info and conversations.invite know."""
        self.workspace.add_user(user_id, name, real_name=real_name)

    def set_usergroup(self, usergroup_id: str, users: list[str]) -> None:
        """Sets the members usergroups.users.list gives for this group."""
        self.workspace.usergroups[usergroup_id] = list(users)

    def expire_trigger(self, trigger_id: str) -> None:
        """Makes views.open with this trigger_id answer expired_trigger_id."""
        self.workspace.expired_triggers.add(trigger_id)

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every recorded call of `method`, oldest first."""
        return [call for call in self.calls if call.method == method]

    async def wait_for(
        self, method: str, predicate: Callable[[ApiCall], bool] | None = None, timeout: float = 10.0
    ) -> ApiCall:
        """The first recorded call of `method` (matching `predicate`), waiting up to `timeout`."""

        def find() -> ApiCall | None:
            for call in self.calls_to(method):
                if predicate is None or predicate(call):
                    return call
            return None

        async with self._recorded:
            try:
                await asyncio.wait_for(self._recorded.wait_for(lambda: find() is not None), timeout)
            except TimeoutError:
                seen = ", ".join(call.method for call in self.calls) or "nothing"
                raise AssertionError(
                    f"no matching {method} call in {timeout}s; saw: {seen}"
                ) from None
        found = find()
        assert found is not None
        return found

    def channel_named(self, name: str) -> Channel | None:
        """The channel with this name, if there is one."""
        return next((c for c in self.workspace.channels.values() if c.name == name), None)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages of a channel (ID or name), thread replies included, as last updated."""
        return self.workspace.channel(channel).messages

    def say(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> str:
        """A person posts `text` (as Slack stores it: `& < >` as entities); returns its ts."""
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        message = {"type": "message", "user": user, "ts": self.workspace.new_ts(), "text": escaped}
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.workspace.channel(channel).messages.append(message)
        return str(message["ts"])

    def pins(self, channel: str) -> list[str]:
        """The ts of every message pinned in a channel (ID or name)."""
        return self.workspace.channel(channel).pins

    @property
    def uploads(self) -> list[Upload]:
        """Every file announced by files.getUploadURLExternal, in order."""
        return list(self.workspace.uploads.values())

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Open views by view ID, as last updated."""
        return self.workspace.views

    async def _record(self, call: ApiCall) -> None:
        async with self._recorded:
            self.calls.append(call)
            self._recorded.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(
                    {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
                )
        auth = request.headers.get("Authorization", "")
        token = (
            auth.removeprefix("Bearer ")
            if auth.startswith("Bearer ")
            else params.pop("token", None)
        )
        limit = self._limits.get(method)
        if limit is not None and limit.times > 0:
            limit.times -= 1
            body = {"ok": False, "error": "ratelimited"}
            await self._record(ApiCall(method, params, token, 429, body))
            return web.json_response(
                body, status=429, headers={"Retry-After": str(limit.retry_after)}
            )
        fault = self._faults.get(method)
        drop_after = False
        if fault is not None and fault.times > 0:
            fault.times -= 1
            if fault.kind == "html":
                await self._record(ApiCall(method, params, token, 500, {"html": HTML_500}))
                page = HTML_500.encode()
                return web.Response(status=500, body=page, content_type=fault.content_type)
            if not fault.after:
                return self._drop(request)
            drop_after = True
        body = self._answer(method, params, token)
        await self._record(ApiCall(method, params, token, 200, body))
        if drop_after:
            return self._drop(request)
        return web.json_response(body)

    def _drop(self, request: web.Request) -> web.Response:
        """Closes the socket; the client sees the server disconnect with no answer."""
        assert request.transport is not None
        request.transport.abort()
        return web.Response(status=500)

    def _answer(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        try:
            if not token:
                raise SlackError("not_authed")
            if token not in (self.bot_token, self.app_token):
                raise SlackError("invalid_auth")
            if method == "apps.connections.open":
                if token != self.app_token:
                    raise SlackError("not_allowed_token_type")
                if self.socket_url is None:
                    raise SlackError("internal_error")
                return {"ok": True, "url": self.socket_url}
            if token != self.bot_token:
                raise SlackError("not_allowed_token_type")
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method")
            return {"ok": True, **handler(params)}
        except SlackError as exc:
            return {"ok": False, "error": exc.error, **exc.extra}

    async def _upload(self, request: web.Request) -> web.Response:
        content = await request.read()
        if not self._content.receive_upload(request.match_info["file_id"], content):
            return web.Response(status=404, text="Not Found")
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    async def _response(self, request: web.Request) -> web.Response:
        response_id = request.match_info["response_id"]
        if response_id not in self._response_channels:
            return web.Response(status=404, text="no_such_response_url")
        body: dict[str, Any] = json.loads(await request.read() or b"{}")
        channel_id = self._response_channels[response_id]
        if channel_id is not None and body.get("response_type") == "in_channel":
            channel = self.workspace.channel(channel_id)
            message = {
                "type": "message",
                "user": BOT_USER_ID,
                "ts": self.workspace.new_ts(),
                "text": body.get("text", ""),
            }
            if body.get("blocks"):
                message["blocks"] = body["blocks"]
            channel.messages.append(message)
        params = {**body, "response_url": str(request.url)}
        await self._record(ApiCall(RESPONSE_URL_METHOD, params, None, 200, {"ok": True}))
        return web.Response(text="ok", content_type="text/plain")
