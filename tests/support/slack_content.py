"""Web API methods that post and change content: messages, pins, views and files."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.support.slack_workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    MAX_BLOCKS,
    MAX_HOME_BLOCKS,
    MAX_TEXT,
    TEAM_ID,
    TRIGGER_ID,
    Answer,
    Params,
    SlackError,
    Upload,
    Workspace,
    json_field,
)


class ContentMethods:
    """chat.*, pins.add, views.* and files.* over one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.methods: dict[str, Callable[[Params], Answer]] = {
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "pins.add": self.pins_add,
            "chat.getPermalink": self.chat_get_permalink,
            "views.open": self.views_open,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
        }

    def _content(self, params: Params) -> Answer:
        """The text/blocks/attachments of a message, validated the way Slack does."""
        text = params.get("text")
        blocks = json_field(params, "blocks")
        attachments = json_field(params, "attachments")
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        if text is not None and len(str(text)) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if blocks is not None:
            valid = isinstance(blocks, list) and all(
                isinstance(b, dict) and "type" in b for b in blocks
            )
            if not valid or len(blocks) > MAX_BLOCKS:
                raise SlackError("invalid_blocks")
        content: Answer = {"text": "" if text is None else str(text)}
        if blocks:
            content["blocks"] = blocks
        if attachments:
            content["attachments"] = attachments
        return content

    def chat_post_message(self, params: Params) -> Answer:
        channel = self.workspace.visible(params.get("channel"))
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": self.workspace.new_ts(),
            **self._content(params),
        }
        metadata = json_field(params, "metadata")
        if metadata:
            message["metadata"] = metadata
        thread_ts = params.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            parent = next((m for m in channel.messages if m["ts"] == thread_ts), None)
            if parent is not None:
                parent.setdefault("thread_ts", parent["ts"])
                parent["reply_count"] = parent.get("reply_count", 0) + 1
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}

    def chat_update(self, params: Params) -> Answer:
        channel = self.workspace.visible(params.get("channel"))
        message = channel.message(str(params.get("ts")))
        if message.get("user") != BOT_USER_ID:
            raise SlackError("cant_update_message")
        content = self._content(params)
        message.update(content, edited={"user": BOT_USER_ID, "ts": self.workspace.new_ts()})
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": content["text"],
            "message": dict(message),
        }

    def chat_post_ephemeral(self, params: Params) -> Answer:
        channel = self.workspace.visible(params.get("channel"))
        user = str(params.get("user") or "")
        if user not in self.workspace.users:
            raise SlackError("user_not_found")
        if user not in channel.members:
            raise SlackError("user_not_in_channel")
        ts = self.workspace.new_ts()
        channel.ephemerals.append({"user": user, "ts": ts, **self._content(params)})
        return {"message_ts": ts}

    def pins_add(self, params: Params) -> Answer:
        channel = self.workspace.visible(params.get("channel"))
        ts = str(params.get("timestamp") or "")
        channel.message(ts)
        if ts in channel.pins:
            raise SlackError("already_pinned")
        channel.pins.append(ts)
        return {}

    def chat_get_permalink(self, params: Params) -> Answer:
        channel = self.workspace.visible(params.get("channel"))
        ts = str(params.get("message_ts") or "")
        channel.message(ts)
        link = f"https://runbook-test.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        return {"channel": channel.id, "permalink": link}

    def views_open(self, params: Params) -> Answer:
        trigger_id = str(params.get("trigger_id") or "")
        if not TRIGGER_ID.match(trigger_id):
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]}
            )
        if trigger_id in self.workspace.expired_triggers:
            raise SlackError("expired_trigger_id")
        if trigger_id in self.workspace.used_triggers:
            raise SlackError("exchanged_trigger_id")
        view = self._view(params, self.workspace.new_id("V"))
        self.workspace.used_triggers.add(trigger_id)
        self.workspace.views[view["id"]] = view
        return {"view": view}

    def views_update(self, params: Params) -> Answer:
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next(
                (
                    v["id"]
                    for v in self.workspace.views.values()
                    if v["external_id"] == params["external_id"]
                ),
                None,
            )
        old = self.workspace.views.get(str(view_id))
        if old is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != old["hash"]:
            raise SlackError("hash_conflict")
        view = self._view(params, old["id"])
        self.workspace.views[view["id"]] = view
        return {"view": view}

    def views_publish(self, params: Params) -> Answer:
        user = str(params.get("user_id") or "")
        if user not in self.workspace.users:
            raise SlackError("user_not_found")
        published = json_field(params, "view")
        if not isinstance(published, dict) or published.get("type") != "home":
            raise SlackError("invalid_arguments")
        if len(published.get("blocks") or []) > MAX_HOME_BLOCKS:
            raise SlackError("invalid_arguments")
        old = self.workspace.homes.get(user)
        view = self._view(params, old["id"] if old else self.workspace.new_id("V"))
        self.workspace.homes[user] = view
        return {"view": view}

    def _view(self, params: Params, view_id: str) -> Answer:
        view = json_field(params, "view")
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise SlackError("invalid_arguments")
        if view["type"] == "modal" and "title" not in view:
            raise SlackError("invalid_arguments")
        return {
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{self.workspace.new_id('')}",
            "root_view_id": view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }

    def files_get_upload_url_external(self, params: Params) -> Answer:
        filename, length = params.get("filename"), params.get("length")
        if not filename or length is None or not str(length).isdigit():
            raise SlackError("invalid_arguments")
        upload = Upload(self.workspace.new_id("F"), str(filename), int(str(length)))
        self.workspace.uploads[upload.id] = upload
        return {
            "file_id": upload.id,
            "upload_url": f"{self.workspace.origin}/upload/v1/{upload.id}",
        }

    def receive_upload(self, file_id: str, content: bytes) -> bool:
        """Stores the bytes POSTed to an upload URL; False when the URL is unknown."""
        upload = self.workspace.uploads.get(file_id)
        if upload is None:
            return False
        upload.content = content
        return True

    def files_complete_upload_external(self, params: Params) -> Answer:
        entries = json_field(params, "files")
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments")
        channel_id = params.get("channel_id") or params.get("channels")
        channel = self.workspace.visible(str(channel_id)) if channel_id else None
        shared: list[Answer] = []
        for entry in entries:
            upload = self.workspace.uploads.get(str(entry.get("id")))
            if upload is None or upload.content is None:
                raise SlackError("file_not_found")
            upload.title = entry.get("title") or upload.filename
            upload.shared = True
            shared.append(
                {
                    "id": upload.id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.content),
                    "user": BOT_USER_ID,
                }
            )
            if channel is not None:
                upload.channel, upload.thread_ts = channel.id, params.get("thread_ts")
                upload.initial_comment = params.get("initial_comment")
        if channel is not None:
            message: Answer = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "ts": self.workspace.new_ts(),
                "text": params.get("initial_comment") or "",
                "files": shared,
                "upload": True,
            }
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            channel.messages.append(message)
        return {"files": shared}
