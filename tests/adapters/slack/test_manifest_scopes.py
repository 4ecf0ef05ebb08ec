"""manifest.yml asks for the least that works: every scope the bot's Web API calls and event
subscriptions need, and no other; its shortcut, Home tab and events are the ones handled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.rendering.declare_modal import SHORTCUT

REPO = Path(__file__).resolve().parents[3]

# The bot scopes each Web API method needs, as Slack documents them (any one of a set will
# do); an empty set needs none. files_upload_v2 calls files.getUploadURLExternal and
# files.completeUploadExternal, both files:write.
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth_test": frozenset(),
    "chat_getPermalink": frozenset(),
    "chat_postEphemeral": frozenset({"chat:write"}),
    "chat_postMessage": frozenset({"chat:write"}),
    "chat_update": frozenset({"chat:write"}),
    "conversations_create": frozenset({"channels:manage"}),
    "conversations_history": frozenset({"channels:history", "groups:history"}),
    "conversations_invite": frozenset({"channels:manage"}),
    "conversations_join": frozenset({"channels:join"}),
    "conversations_replies": frozenset({"channels:history", "groups:history"}),
    "files_upload_v2": frozenset({"files:write"}),
    "pins_add": frozenset({"pins:write"}),
    "usergroups_users_list": frozenset({"usergroups:read"}),
    "users_info": frozenset({"users:read"}),
    "views_open": frozenset(),
    "views_publish": frozenset(),
    "views_update": frozenset(),
}
# The scope each event subscription needs.
EVENT_SCOPES = {
    "app_home_opened": "",
    "pin_added": "pins:read",
    "pin_removed": "pins:read",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
}
# Declared for what is not a method call: slash commands and shortcuts; and history in
# private channels, which a configured private incidents channel needs (Slack asks for
# groups:history there, channels:history in public ones).
NOT_CALLS = {"commands", "groups:history"}


def _manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "manifest.yml").read_text())
    return loaded


def _source() -> str:
    return "\n".join(p.read_text() for p in sorted((REPO / "bot").rglob("*.py")))


def _called() -> set[str]:
    """Every Web API method the bot calls through its client (Socket Mode's and aiohttp's
    clients have methods of their own, which the Web API client has not)."""
    names = set(re.findall(r"client\.([a-z]+_[A-Za-z0-9_]+)\(", _source()))
    return {n for n in names if hasattr(AsyncWebClient, n)}


def test_every_method_the_bot_calls_has_a_known_scope() -> None:
    unknown = _called() - set(METHOD_SCOPES)
    assert not unknown, f"add these methods' scopes to METHOD_SCOPES: {sorted(unknown)}"


def test_scopes_are_exactly_what_the_calls_and_events_need() -> None:
    manifest = _manifest()
    declared = set(manifest["oauth_config"]["scopes"]["bot"])
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed = {scope for event in events if (scope := EVENT_SCOPES[event])}
    for method in _called():
        alternatives = METHOD_SCOPES[method]
        if alternatives:
            assert alternatives & declared, f"{method} needs one of {sorted(alternatives)}"
            needed |= alternatives & declared

    assert declared - needed - NOT_CALLS == set(), "declared but never needed"
    assert needed <= declared


def test_the_shortcut_home_tab_and_events_are_declared_and_handled() -> None:
    manifest = _manifest()
    source = _source()
    [shortcut] = manifest["features"]["shortcuts"]
    events = manifest["settings"]["event_subscriptions"]["bot_events"]

    assert (shortcut["type"], shortcut["callback_id"]) == ("message", SHORTCUT)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert sorted(events) == sorted(EVENT_SCOPES)
    for event in events:
        assert f'@app.event("{event}")' in source, f"no listener for {event}"
