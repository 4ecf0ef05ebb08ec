"""Requests as Slack sends them to `/slack/events`: realistic payloads and Slack's v0 signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from tests.support.slack_workspace import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
TEAM_DOMAIN = "runbook-test"
# The deprecated verification token Slack still sends in every payload.
VERIFICATION_TOKEN = "legacy-verification-token"
DEFAULT_USER = "U0ALICE"
DEFAULT_CHANNEL = "C0GENERAL"


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The X-Slack-Request-Timestamp and X-Slack-Signature headers Slack sends with `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def new_trigger_id() -> str:
    """A fresh trigger_id shaped like Slack's."""
    return f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def _user(user_id: str) -> dict[str, str]:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": TEAM_ID}


def _team() -> dict[str, str]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def slash_command_payload(
    *,
    response_url: str,
    command: str = "/incident",
    text: str = "",
    user_id: str = DEFAULT_USER,
    channel_id: str = DEFAULT_CHANNEL,
    channel_name: str = "general",
    trigger_id: str | None = None,
) -> dict[str, str]:
    """The fields of a slash command invocation (a Socket Mode `slash_commands` payload)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def slash_command_body(
    *,
    response_url: str,
    command: str = "/incident",
    text: str = "",
    user_id: str = DEFAULT_USER,
    channel_id: str = DEFAULT_CHANNEL,
    channel_name: str = "general",
    trigger_id: str | None = None,
) -> bytes:
    """A slash command as the form-encoded body Slack POSTs."""
    fields = slash_command_payload(
        response_url=response_url,
        command=command,
        text=text,
        user_id=user_id,
        channel_id=channel_id,
        channel_name=channel_name,
        trigger_id=trigger_id,
    )
    return urlencode(fields).encode()


def block_action_payload(
    *,
    action_id: str,
    value: str,
    response_url: str,
    user_id: str = DEFAULT_USER,
    channel_id: str = DEFAULT_CHANNEL,
    message_ts: str = "",
    trigger_id: str | None = None,
    block_id: str = "actions",
    message: dict[str, Any] | None = None,
    selected: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button click on a message (a `block_actions` interaction payload); with `selected`,
    the option picked in a static select instead."""
    clicked = message or {
        "type": "message",
        "ts": message_ts,
        "text": "",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "blocks": [],
    }
    return {
        "type": "block_actions",
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts or clicked.get("ts", ""),
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "message": clicked,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": value},
                "action_ts": f"{time.time():.6f}",
            }
            if selected is None
            else {
                "type": "static_select",
                "action_id": action_id,
                "block_id": block_id,
                "selected_option": selected,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def block_action_body(
    *,
    action_id: str,
    value: str,
    response_url: str,
    user_id: str = DEFAULT_USER,
    channel_id: str = DEFAULT_CHANNEL,
    message_ts: str = "",
    trigger_id: str | None = None,
    block_id: str = "actions",
    message: dict[str, Any] | None = None,
    selected: dict[str, Any] | None = None,
) -> bytes:
    """A button click as the form body Slack POSTs: one field `payload=` holding JSON."""
    payload = block_action_payload(
        action_id=action_id,
        value=value,
        response_url=response_url,
        user_id=user_id,
        channel_id=channel_id,
        message_ts=message_ts,
        trigger_id=trigger_id,
        block_id=block_id,
        message=message,
        selected=selected,
    )
    return urlencode({"payload": json.dumps(payload)}).encode()


def view_submission_payload(
    *,
    callback_id: str,
    private_metadata: str = "",
    state_values: dict[str, Any] | None = None,
    user_id: str = DEFAULT_USER,
    view_id: str = "V000000000",
) -> dict[str, Any]:
    """A modal's submit (a `view_submission` interaction payload)."""
    return {
        "type": "view_submission",
        "team": _team(),
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "blocks": [],
            "title": {"type": "plain_text", "text": "Modal"},
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "external_id": "",
            "state": {"values": state_values or {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "enterprise": None,
        "is_enterprise_install": False,
    }


def view_submission_body(
    *,
    callback_id: str,
    private_metadata: str = "",
    state_values: dict[str, Any] | None = None,
    user_id: str = DEFAULT_USER,
    view_id: str = "V000000000",
) -> bytes:
    """A modal's submit as the form body Slack POSTs: one field `payload=` holding JSON."""
    payload = view_submission_payload(
        callback_id=callback_id,
        private_metadata=private_metadata,
        state_values=state_values,
        user_id=user_id,
        view_id=view_id,
    )
    return urlencode({"payload": json.dumps(payload)}).encode()


def event_payload(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API `event_callback`: the body POSTed to the request URL, and the payload of
    a Socket Mode `events_api` envelope."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_hex(16)}",
    }


def reaction_event(
    kind: str, *, user: str, channel: str, ts: str, item_user: str, reaction: str = "pushpin"
) -> dict[str, Any]:
    """`reaction_added` or `reaction_removed` on a message, as Slack describes it."""
    return {
        "type": kind,
        "user": user,
        "reaction": reaction,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }


def pin_event(kind: str, *, user: str, channel: str, message: dict[str, Any]) -> dict[str, Any]:
    """`pin_added` or `pin_removed` of a message, which Slack sends whole in the item."""
    event: dict[str, Any] = {
        "type": kind,
        "user": user,
        "channel_id": channel,
        "item": {
            "type": "message",
            "created": int(time.time()),
            "created_by": user,
            "channel": channel,
            "message": {**message, "pinned_to": [channel] if kind == "pin_added" else []},
        },
        "event_ts": f"{time.time():.6f}",
    }
    if kind == "pin_removed":
        event["has_pins"] = False
    return event


def message_action_payload(
    *,
    callback_id: str,
    response_url: str,
    message: dict[str, Any],
    user_id: str = DEFAULT_USER,
    channel_id: str = DEFAULT_CHANNEL,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A message shortcut (a `message_action` interaction payload)."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": _team(),
        "user": _user(user_id),
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    }


def form_body(payload: dict[str, Any]) -> bytes:
    """An interaction payload as the form body Slack POSTs: one field `payload=` holding JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode()
