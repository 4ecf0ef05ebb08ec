"""Where an incident lives in Slack: its channel (or thread), headline, stage and replies."""

from __future__ import annotations

import asyncio
import logging
import re

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.api_errors import api_error
from bot.adapters.slack.posting import post_once
from bot.adapters.slack.rendering import blocks
from bot.adapters.slack.rendering.message import Message, drill_marked, split
from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.headline import Headline, headline
from bot.engine.incident import Incident
from bot.engine.notifier import Firing
from bot.engine.severity import invited

log = logging.getLogger(__name__)

CHANNEL = "slack.channel"
THREAD = "slack.thread_ts"
HEADLINE = "slack.headline_ts"
STAGE = "slack.stage_ts"
APPROVAL = "slack.approval."
# Set while the room could not be made; holds the one-line reason. Cleared once it exists.
ROOM_PENDING = "slack.room_pending"
# Where the opening command was typed: the announcement goes there when no incidents channel is set.
ORIGIN = "slack.origin"

# Headline edits wait this long so a burst of changes becomes one chat.update.
COALESCE_SECONDS = 1.0


def channel_name(prefix: str, incident: Incident) -> str:
    """`inc-0007-api-down-ecap-api`: lowercase, Slack's allowed characters, at most 80."""
    raw = f"{prefix}-{incident.id.removeprefix('INC-')}-{incident.playbook_id}-{incident.service}"
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-")
    return re.sub(r"-{2,}", "-", name)[:80].rstrip("-")


class Rooms:
    def __init__(self, client: AsyncWebClient, engine: Engine, config: Config) -> None:
        self.client = client
        self.engine = engine
        self.config = config
        self._pending_headlines: dict[str, asyncio.Task[None]] = {}
        # Nudges for incidents whose room is pending, posted there once it exists.
        self.held: dict[str, list[Message]] = {}
        # Set when a nudge is held, so the repair comes soon rather than at its next round.
        self.repair_soon = asyncio.Event()

    # --- opening ------------------------------------------------------------------------

    async def open_room(self, incident: Incident, opener: str, origin_channel: str) -> Incident:
        """Give a new incident its room, announce it, pin its headline, show its first stage.

        Each part is stored as it is done, so a retry after a failure goes on where it stopped.
        """
        playbook = self.engine.playbook_for(incident)
        announce_to = self.config.channels.incidents or origin_channel
        # A drill gets a room of its own, never a thread among the real incidents.
        drill = incident.drill is not None
        channel_mode = self.config.channels.mode == "channel" or drill
        if CHANNEL not in incident.links:
            if channel_mode:
                channel = await self._create_channel(incident)
                incident = await self.engine.set_links(incident.id, {CHANNEL: channel})
            else:
                await self._join(announce_to)
                root = await self.post_to(
                    announce_to, blocks.announcement_message(incident, playbook, announce_to)
                )
                links = {CHANNEL: announce_to, THREAD: root}
                incident = await self.engine.set_links(incident.id, links)
        if HEADLINE not in incident.links:
            # An alert opens incidents on no one's behalf: there is nobody to invite.
            if channel_mode and opener[:1] in ("U", "W") and opener.isalnum():
                await self._invite(incident.links[CHANNEL], opener)
            await self.invite_for_severity(incident)
            message = blocks.headline_message(self._headline(incident))
            headline_ts = await self.post(incident, message)
            await self._pin(incident.links[CHANNEL], headline_ts)
            incident = await self.engine.set_links(incident.id, {HEADLINE: headline_ts})
            if channel_mode and announce_to and not drill:
                await self._announce(incident, announce_to)
        if STAGE in incident.links:
            return incident
        return await self.show_stage(incident)

    async def _announce(self, incident: Incident, channel: str) -> None:
        """Tell the incidents channel; the incident is open and usable even if this fails."""
        playbook = self.engine.playbook_for(incident)
        message = blocks.announcement_message(incident, playbook, incident.links[CHANNEL])
        await self._join(channel)
        try:
            await self.post_to(channel, message)
        except SlackApiError as exc:
            error = api_error(exc)
            log.warning("could not announce %s in %s: %s", incident.id, channel, error)

    async def _create_channel(self, incident: Incident) -> str:
        prefix = "drill" if incident.drill is not None else self.config.channels.prefix
        base = channel_name(prefix, incident)
        for attempt in range(1, 6):
            name = base if attempt == 1 else f"{base[:76]}-{attempt}"
            try:
                response = await self.client.conversations_create(name=name)
            except SlackApiError as exc:
                if api_error(exc) == "name_taken":
                    continue
                raise
            return str(response["channel"]["id"])
        raise RuntimeError(f"no free channel name for {incident.id}")

    async def _invite(self, channel: str, user: str) -> None:
        try:
            await self.client.conversations_invite(channel=channel, users=user)
        except SlackApiError as exc:
            if api_error(exc) not in ("already_in_channel", "cant_invite_self"):
                raise

    async def invite_for_severity(self, incident: Incident) -> None:
        """Invite the config's user groups and users for the incident's severity to its channel;
        a group that cannot be read or a user who cannot be invited is logged, never fatal."""
        if self.config.channels.mode != "channel" or CHANNEL not in incident.links:
            return
        if incident.drill is not None:
            # Severity brings people to real incidents; a drill calls nobody in.
            return
        users: list[str] = []
        for who in invited(self.config, incident.severity):
            if who.startswith("S"):
                try:
                    response = await self.client.usergroups_users_list(usergroup=who)
                except SlackApiError as exc:
                    log.warning("cannot read user group %s: %s", who, api_error(exc))
                    continue
                users += [str(u) for u in response.get("users") or []]
            else:
                users.append(who)
        for user in dict.fromkeys(users):
            try:
                await self._invite(incident.links[CHANNEL], user)
            except SlackApiError as exc:
                log.warning("could not invite %s to %s: %s", user, incident.id, api_error(exc))

    async def _join(self, channel: str) -> None:
        try:
            await self.client.conversations_join(channel=channel)
        except SlackApiError as exc:
            # Private channels and DMs cannot be joined; posting will say if we lack access.
            log.info("could not join %s: %s", channel, api_error(exc))

    async def _pin(self, channel: str, ts: str) -> None:
        try:
            await self.client.pins_add(channel=channel, timestamp=ts)
        except SlackApiError as exc:
            log.warning("could not pin the headline: %s", api_error(exc))

    # --- posting ------------------------------------------------------------------------

    async def post_to(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        once: Firing | None = None,
    ) -> str:
        """Post (split into several messages if it is too long); returns the first one's ts.
        With `once`, each part is posted under an id of the firing's, unless already there."""
        first = ""
        for n, part in enumerate(split(message)):
            ts = await post_once(
                self.client,
                post_id=None if once is None else f"{once.id}#{n}",
                look_since=None if once is None or once.fresh else once.at.timestamp(),
                channel=channel,
                text=part.text,
                blocks=[b.to_dict() for b in part.blocks],
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
            first = first or ts
        return first

    async def post(
        self,
        incident: Incident,
        message: Message,
        reply_to: str | None = None,
        once: Firing | None = None,
    ) -> str:
        """Post in the incident's room: its channel, or its thread in thread mode."""
        thread = reply_to or incident.links.get(THREAD)
        if incident.drill is not None:
            message = drill_marked(message)
        return await self.post_to(incident.links[CHANNEL], message, thread, once)

    async def update(self, incident: Incident, ts: str, message: Message) -> None:
        if incident.drill is not None:
            message = drill_marked(message)
        part = split(message)[0]
        await self.client.chat_update(
            channel=incident.links[CHANNEL],
            ts=ts,
            text=part.text,
            blocks=[b.to_dict() for b in part.blocks],
        )

    async def upload(
        self, incident: Incident, title: str, content: str, reply_to: str, extension: str = "txt"
    ) -> None:
        filename = re.sub(r"[^A-Za-z0-9_.-]+", "-", title)[:60] + "." + extension
        await self.client.files_upload_v2(
            channel=incident.links[CHANNEL],
            thread_ts=reply_to,
            title=f"DRILL {title}" if incident.drill is not None else title,
            filename=filename,
            content=content,
        )

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as exc:
            log.warning("could not tell %s: %s", user, api_error(exc))

    # --- the stage and the headline -----------------------------------------------------

    async def show_stage(self, incident: Incident) -> Incident:
        """Post the current stage's message; older stage messages keep their (now stale) buttons."""
        messages = blocks.stage_messages(incident, self.engine.playbook_for(incident))
        first = ""
        for message in messages:
            ts = await self.post(incident, message)
            first = first or ts
        return await self.engine.set_links(incident.id, {STAGE: first})

    async def refresh_stage(self, incident: Incident) -> None:
        ts = incident.links.get(STAGE)
        if ts:
            playbook = self.engine.playbook_for(incident)
            await self.update(incident, ts, blocks.stage_messages(incident, playbook)[0])

    def refresh_headline(self, incident_id: str) -> None:
        """Edit the pinned headline soon; many changes in a burst make one edit."""
        if incident_id in self._pending_headlines:
            return
        task = asyncio.create_task(self._edit_headline_later(incident_id))
        self._pending_headlines[incident_id] = task

    async def flush_headlines(self) -> None:
        """Wait for pending headline edits (shutdown, tests)."""
        while self._pending_headlines:
            await asyncio.gather(*self._pending_headlines.values(), return_exceptions=True)

    async def _edit_headline_later(self, incident_id: str) -> None:
        try:
            await asyncio.sleep(COALESCE_SECONDS)
            self._pending_headlines.pop(incident_id, None)
            incident = await self.engine.get(incident_id)
            ts = incident.links.get(HEADLINE)
            if ts:
                message = blocks.headline_message(
                    self._headline(incident), resolved=incident.status != "open"
                )
                await self.update(incident, ts, message)
        except Exception as exc:
            log.warning("headline of %s not updated: %s", incident_id, exc)
        finally:
            if self._pending_headlines.get(incident_id) is asyncio.current_task():
                del self._pending_headlines[incident_id]

    def _headline(self, incident: Incident) -> Headline:
        playbook = self.engine.playbook_for(incident)
        return headline(incident, playbook, self.engine.clock())
