"""What every Slack listener needs, and how they report failures to the person who clicked."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from bot.adapters.slack.admission import Admission
from bot.adapters.slack.identity import Identities
from bot.adapters.slack.rendering.escape import escape
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rooms import CHANNEL, Rooms
from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.incident import Incident
from bot.engine.targets import Sandboxes
from bot.errors import BotError, InvalidRequest

log = logging.getLogger(__name__)

INCIDENT_ID = re.compile(r"^INC-\d{1,9}$", re.IGNORECASE)


@dataclass
class SlackContext:
    engine: Engine
    config: Config
    rooms: Rooms
    identities: Identities
    admission: Admission = dataclasses.field(default_factory=Admission)
    # The sandboxes of the drills this process started; None: drills are not offered.
    sandboxes: Sandboxes | None = None

    async def incident_here(self, channel: str, explicit: str | None) -> Incident:
        """The incident a command means: the one named, or the one whose channel this is."""
        if explicit:
            if not INCIDENT_ID.match(explicit):
                raise InvalidRequest(f"'{explicit[:40]}' is not an incident id like INC-0007")
            return await self.engine.get(explicit.upper())
        here = [
            i for i in await self.engine.list_incidents("open") if i.links.get(CHANNEL) == channel
        ]
        if len(here) == 1:
            return here[0]
        if not here:
            raise InvalidRequest("no open incident in this channel; name one, e.g. INC-0007")
        raise InvalidRequest("several incidents share this channel; name one, e.g. INC-0007")

    async def guard(
        self,
        channel: str,
        user: str,
        work: Callable[[], Awaitable[None]],
        what: str,
        respond: AsyncRespond | None = None,
    ) -> None:
        """Run a listener's work; a failure becomes a one-line note to the user only."""
        try:
            await self.admission.run(work)
        except BotError as exc:
            await self.tell(channel, user, f":warning: {escape(str(exc))}", respond)
        except Exception as exc:
            log.error("%s failed: %s: %s", what, type(exc).__name__, exc)
            note = f":warning: {what} failed ({type(exc).__name__}); see the bot's log"
            await self.tell(channel, user, note, respond)

    async def tell(
        self, channel: str, user: str, text: str, respond: AsyncRespond | None = None
    ) -> None:
        """Only `user` sees it. The interaction's response_url reaches people who are not
        members of the channel, where an ephemeral message cannot."""
        if respond is not None:
            try:
                await respond(text=text, response_type="ephemeral", replace_original=False)
                return
            except Exception as exc:
                log.info("response_url failed (%s); trying an ephemeral message", exc)
        await self.rooms.ephemeral(channel, user, text)


def text_message(text: str) -> Message:
    """A plain message of text from users or the cluster, escaped so it cannot mention anyone."""
    return markup_message(escape(text))


def markup_message(mrkdwn: str) -> Message:
    """A message whose markup the bot wrote itself (mentions it means); callers escape the rest."""
    safe = mrkdwn[:2900] or "(empty)"
    return Message(text=safe[:300], blocks=[SectionBlock(text=MarkdownTextObject(text=safe))])


def field(values: dict[str, Any], action_id: str) -> Any:
    """The state of one input in a submitted view, wherever its block sits."""
    for block in values.values():
        if action_id in block:
            return block[action_id]
    return {}
