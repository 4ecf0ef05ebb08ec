"""The state of a fake Slack workspace and its identity and conversation Web API methods."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Params = dict[str, Any]
Answer = dict[str, Any]

TEAM_ID = "T0TEST"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0TEST"
# Limits Slack documents for chat.postMessage / chat.update.
MAX_TEXT = 40_000
MAX_BLOCKS = 50
# Slack's limit on a Home tab's blocks.
MAX_HOME_BLOCKS = 100
_CHANNEL_NAME = re.compile(r"^[a-z0-9_-]+$")
# The shape of Slack's trigger_ids, e.g. 13345224609.738474920.8088930838d88f008e0.
TRIGGER_ID = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")


class SlackError(Exception):
    """An answer `{"ok": false, "error": code}` as Slack gives it."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Channel:
    """A conversation: its members, messages (thread replies included) and pins."""

    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    members: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))

    def info(self) -> Answer:
        """The channel object as conversations.info shows it to the bot."""
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_private": self.is_private,
            "is_archived": False,
            "is_member": BOT_USER_ID in self.members,
            "created": self.created,
            "creator": BOT_USER_ID,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }

    def message(self, ts: str) -> dict[str, Any]:
        """The message with this ts, or message_not_found."""
        for message in self.messages:
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")


@dataclass
class Upload:
    """A file: announced by files.getUploadURLExternal, then sent, then shared."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    # Set by files.completeUploadExternal: the bytes arrived and the file is shared.
    shared: bool = False


def json_field(params: Params, name: str) -> Any:
    """A structured argument, whether it came as JSON or as a JSON string in a form."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError("invalid_arguments") from exc
    return value


class Workspace:
    """Channels, users, user groups, views and files; content methods live in slack_content."""

    def __init__(self) -> None:
        self.users: dict[str, Answer] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.channels: dict[str, Channel] = {}
        self.views: dict[str, Answer] = {}
        # Each user's published Home tab.
        self.homes: dict[str, Answer] = {}
        self.uploads: dict[str, Upload] = {}
        self.used_triggers: set[str] = set()
        self.expired_triggers: set[str] = set()
        self.origin = "http://127.0.0.1"
        self._ids = itertools.count(1)
        self._ts_seconds = int(time.time())
        self._ts_seq = itertools.count(1)
        self.add_user(BOT_USER_ID, "runbook-bot", is_bot=True)
        self.add_user("U0ALICE", "alice")
        self.add_user("U0BOB", "bob")
        self.add_channel("general", channel_id="C0GENERAL", members=["U0ALICE", "U0BOB"])
        self.methods: dict[str, Callable[[Params], Answer]] = {
            "auth.test": self.auth_test,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
            "conversations.create": self.conversations_create,
            "conversations.info": self.conversations_info,
            "conversations.invite": self.conversations_invite,
            "conversations.join": self.conversations_join,
        }

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-looking ID such as C000000001."""
        return f"{prefix}{next(self._ids):09d}"

    def new_ts(self) -> str:
        """A fresh message ts, increasing like Slack's."""
        return f"{self._ts_seconds}.{next(self._ts_seq):06d}"

    def add_user(
        self, user_id: str, name: str, *, is_bot: bool = False, real_name: str = ""
    ) -> None:
        """Adds a user that users.info knows: `name` is their handle, `real_name` their full name
        (the handle when not given), shown at the top level and in the profile as Slack does."""
        full = real_name or name
        profile = {
            "real_name": full,
            "real_name_normalized": full,
            "display_name": name,
            "display_name_normalized": name,
        }
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "real_name": full,
            "is_bot": is_bot,
            "profile": profile,
        }

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        members: list[str] | None = None,
        is_private: bool = False,
    ) -> str:
        """Adds a channel as if someone had created it earlier; returns its ID."""
        channel = Channel(
            channel_id or self.new_id("C"), name, is_private, members=list(members or [])
        )
        self.channels[channel.id] = channel
        return channel.id

    def channel(self, ref: str | None) -> Channel:
        """The channel by ID, `#name` or name, or channel_not_found."""
        if ref in self.channels:
            return self.channels[ref]
        if ref in self.users:
            return self._direct_channel(ref)
        for channel in self.channels.values():
            if ref is not None and channel.name == ref.removeprefix("#") and not channel.is_im:
                return channel
        raise SlackError("channel_not_found")

    def _direct_channel(self, user_id: str) -> Channel:
        for channel in self.channels.values():
            if channel.is_im and channel.members == [BOT_USER_ID, user_id]:
                return channel
        channel = Channel(self.new_id("D"), user_id, is_im=True, members=[BOT_USER_ID, user_id])
        self.channels[channel.id] = channel
        return channel

    def visible(self, ref: str | None) -> Channel:
        """The channel as the bot can see it: private ones only when it is a member."""
        channel = self.channel(ref)
        # A private channel the bot is not in does not exist as far as the bot can tell.
        if channel.is_private and BOT_USER_ID not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def auth_test(self, params: Params) -> Answer:
        return {
            "url": "https://runbook-test.slack.com/",
            "team": "Runbook Test",
            "user": "runbook-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def users_info(self, params: Params) -> Answer:
        user = self.users.get(str(params.get("user")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def usergroups_users_list(self, params: Params) -> Answer:
        users = self.usergroups.get(str(params.get("usergroup")))
        if users is None:
            raise SlackError("no_such_subteam")
        return {"users": list(users)}

    def conversations_create(self, params: Params) -> Answer:
        name = str(params.get("name") or "")
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if not _CHANNEL_NAME.match(name):
            raise SlackError("invalid_name_specials")
        if all(c in "-_" for c in name):
            raise SlackError("invalid_name_punctuation")
        if any(c.name == name for c in self.channels.values() if not c.is_im):
            raise SlackError("name_taken")
        is_private = str(params.get("is_private", "false")).lower() in ("true", "1")
        channel_id = self.add_channel(name, members=[BOT_USER_ID], is_private=is_private)
        return {"channel": self.channels[channel_id].info()}

    def conversations_info(self, params: Params) -> Answer:
        return {"channel": self.visible(params.get("channel")).info()}

    def conversations_invite(self, params: Params) -> Answer:
        channel = self.visible(params.get("channel"))
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("no_user")
        for user in users:
            if user == BOT_USER_ID:
                raise SlackError("cant_invite_self")
            if user not in self.users:
                raise SlackError("user_not_found")
            if user in channel.members:
                raise SlackError(
                    "already_in_channel",
                    errors=[{"user": user, "ok": False, "error": "already_in_channel"}],
                )
        channel.members.extend(users)
        return {"channel": channel.info()}

    def conversations_join(self, params: Params) -> Answer:
        channel = self.channel(params.get("channel"))
        if channel.is_private or channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if BOT_USER_ID in channel.members:
            return {
                "channel": channel.info(),
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.members.append(BOT_USER_ID)
        return {"channel": channel.info()}
