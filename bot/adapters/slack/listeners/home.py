"""The Home tab: published when someone opens it, and again for recent viewers when an
incident changes (coalesced, and for a bounded number of viewers)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.api_errors import api_error, failure
from bot.adapters.slack.context import SlackContext
from bot.adapters.slack.listeners.checklists import LINK as CHECKLIST_LINK
from bot.adapters.slack.rendering.home_blocks import (
    HOME_LINK,
    Row,
    approval_row,
    home_view,
    incident_row,
    task_row,
)
from bot.adapters.slack.rooms import APPROVAL, CHANNEL, HEADLINE
from bot.engine import checklist
from bot.engine.headline import headline
from bot.engine.incident import Incident

log = logging.getLogger(__name__)

# Who opened the Home tab this recently sees it refreshed when an incident changes.
RECENT_S = 30 * 60.0
# At most this many viewers are refreshed, the most recent first; the rest refresh on opening.
MAX_VIEWERS = 50
# A burst of changes makes one refresh.
COALESCE_S = 1.0


class Home:
    def __init__(self, ctx: SlackContext) -> None:
        self.ctx = ctx
        self._viewers: dict[str, float] = {}
        self._permalinks: dict[tuple[str, str], str] = {}
        self._refresh: asyncio.Task[None] | None = None

    def opened(self, user: str) -> None:
        self._viewers.pop(user, None)
        self._viewers[user] = time.monotonic()
        while len(self._viewers) > MAX_VIEWERS:
            del self._viewers[next(iter(self._viewers))]

    def recent(self) -> list[str]:
        since = time.monotonic() - RECENT_S
        return [user for user, at in self._viewers.items() if at >= since]

    def changed(self, incident: Incident) -> None:
        """The engine's change listener: refresh soon, once for a burst of changes."""
        if self._refresh is None and self.recent():
            self._refresh = asyncio.create_task(self._refresh_later())

    async def _refresh_later(self) -> None:
        try:
            await asyncio.sleep(COALESCE_S)
            self._refresh = None
            for user in self.recent():
                await self.publish(user)
        except Exception as exc:
            log.warning("Home tabs not refreshed: %s", failure(exc))
        finally:
            if self._refresh is asyncio.current_task():
                self._refresh = None

    async def publish(self, user: str) -> None:
        engine = self.ctx.engine
        now = engine.clock()
        opened = await engine.list_incidents("open")
        actor = await self.ctx.identities.actor(user)
        incidents: list[Row] = []
        approvals: list[Row] = []
        for incident in opened:
            h = headline(incident, engine.playbook_for(incident), now)
            room = await self._link(incident, incident.links.get(HEADLINE, ""))
            incidents.append(incident_row(h, room))
            if not engine.policy.may_approve(actor):
                continue
            for approval in incident.approvals.values():
                if approval.state != "pending" or approval.expires_at <= now:
                    continue
                if approval.destructive and approval.requested_by.id == user:
                    continue
                url = await self._link(incident, incident.links.get(APPROVAL + approval.id, ""))
                approvals.append(approval_row(
                    incident.id, approval.id, approval.title, approval.requested_by.id, url
                ))  # fmt: skip
        tasks = await self._tasks(user)
        try:
            await self.ctx.rooms.client.views_publish(
                user_id=user, view=home_view(incidents, approvals, tasks)
            )
        except SlackApiError as exc:
            log.warning("Home tab of %s not published: %s", user, api_error(exc))

    async def _tasks(self, user: str) -> list[Row]:
        """Checklist items the viewer owns and has not done (checklists follow resolving)."""
        rows: list[Row] = []
        for incident in await self.ctx.engine.list_incidents("resolved"):
            playbook = self.ctx.engine.playbook_for(incident)
            for found in checklist.applicable(playbook, incident):
                for task in checklist.tasks(found, incident):
                    if task.state.owner == user and not task.state.done:
                        ts = incident.links.get(CHECKLIST_LINK + found.id, "")
                        url = await self._link(incident, ts)
                        rows.append(task_row(incident.id, task.text, url))
        return rows

    async def _link(self, incident: Incident, ts: str) -> str:
        """A message's permalink, asked of Slack once; the room's headline when `ts` is ""."""
        channel, ts = incident.links.get(CHANNEL, ""), ts or incident.links.get(HEADLINE, "")
        if not channel or not ts:
            return ""
        if (channel, ts) not in self._permalinks:
            try:
                answer = await self.ctx.rooms.client.chat_getPermalink(
                    channel=channel, message_ts=ts
                )
            except SlackApiError as exc:
                log.info("no permalink for %s in %s: %s", ts, channel, api_error(exc))
                return ""
            self._permalinks[(channel, ts)] = str(answer.get("permalink") or "")
        return self._permalinks[(channel, ts)]


def register(app: AsyncApp, ctx: SlackContext) -> None:
    home = Home(ctx)
    ctx.engine.on_change(home.changed)

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        user = str(event.get("user", ""))
        home.opened(user)
        await home.publish(user)

    @app.action(HOME_LINK)
    async def link_clicked(ack: AsyncAck) -> None:
        # Slack opens the link itself; the click only needs an answer.
        await ack()
