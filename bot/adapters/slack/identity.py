"""Who a Slack user is to the engine: their user id, name and approver groups."""

from __future__ import annotations

import logging
import time

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.api_errors import api_error, failure
from bot.engine.incident import Actor

log = logging.getLogger(__name__)

# Group membership changes rarely; asking Slack on every click would hit its rate limits.
GROUP_CACHE_SECONDS = 60.0
# Names change more rarely still.
NAME_CACHE_SECONDS = 3600.0


class Identities:
    def __init__(self, client: AsyncWebClient, approvers: list[str]) -> None:
        self.client = client
        # Slack user-group ids start with S; everything else in `approvers:` is a user id.
        self.groups = [a for a in approvers if a.startswith("S")]
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._names: dict[str, tuple[float, str]] = {}

    async def actor(self, user_id: str, name: str = "") -> Actor:
        return Actor(id=user_id, name=name, groups=await self._groups_of(user_id))

    async def name(self, user_id: str) -> str:
        """The person's full name from users.info (cached); empty when Slack cannot say."""
        cached = self._names.get(user_id)
        if cached and time.monotonic() - cached[0] < NAME_CACHE_SECONDS:
            return cached[1]
        try:
            response = await self.client.users_info(user=user_id)
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # Not cached: the next ticket asks again.
            log.warning("cannot read user %s: %s", user_id, failure(exc))
            return ""
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        found = str(
            profile.get("real_name") or user.get("real_name") or profile.get("display_name") or ""
        )
        name = " ".join(found.split())[:100] or str(user.get("name") or "")
        self._names[user_id] = (time.monotonic(), name)
        return name

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
