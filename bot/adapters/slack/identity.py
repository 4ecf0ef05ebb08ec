"""Who a Slack user is to the engine: their user id, name and approver groups."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.api_errors import api_error
from bot.engine.incident import Actor

log = logging.getLogger(__name__)

# Group membership changes rarely; asking Slack on every click would hit its rate limits.
GROUP_CACHE_SECONDS = 60.0


class Identities:
    def __init__(self, client: AsyncWebClient, approvers: list[str]) -> None:
        self.client = client
        # Slack user-group ids start with S; everything else in `approvers:` is a user id.
        self.groups = [a for a in approvers if a.startswith("S")]
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def actor(self, user_id: str, name: str = "") -> Actor:
        return Actor(id=user_id, name=name, groups=await self._groups_of(user_id))

    async def _groups_of(self, user_id: str) -> frozenset[str]:
        found = set()
        for group in self.groups:
            if user_id in await self._members_of(group):
                found.add(group)
        return frozenset(found)

    async def _members_of(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group)
            members = frozenset(str(u) for u in response.get("users") or [])
        except SlackApiError as exc:
            log.warning("cannot read user group %s: %s", group, api_error(exc))
            members = cached[1] if cached else frozenset()
        self._members[group] = (time.monotonic(), members)
        return members
