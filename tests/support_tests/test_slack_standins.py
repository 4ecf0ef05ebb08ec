"""The Slack stand-ins answer a real AsyncWebClient and a real AsyncApp the way Slack does."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import (
    FORM_CONTENT_TYPE,
    block_action_body,
    block_action_payload,
    new_trigger_id,
    sign,
    slash_command_body,
    view_submission_body,
)
from tests.support.slack_socket import SlackSocketStandIn, connected_handler

SECRET = "test-signing-secret"


@pytest.fixture
async def api() -> AsyncIterator[SlackApiStandIn]:
    async with SlackApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def client(api: SlackApiStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=api.bot_token, base_url=api.url)


async def slack_error(call: Any) -> str:
    """The Slack error code a failing Web API call raised."""
    with pytest.raises(SlackApiError) as raised:
        await call
    return str(raised.value.response["error"])


async def test_post_message_is_recorded_with_params_and_token(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    response = await client.chat_postMessage(channel="C0GENERAL", text="hello")

    assert response["channel"] == "C0GENERAL"
    assert response["message"]["text"] == "hello"
    [call] = api.calls_to("chat.postMessage")
    assert call.params == {"channel": "C0GENERAL", "text": "hello"}
    assert call.token == api.bot_token
    assert [m["ts"] for m in api.messages("general")] == [response["ts"]]


async def test_form_encoded_and_query_params_are_parsed(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    await client.api_call("chat.postMessage", data={"channel": "#general", "text": "form"})
    await client.users_info(user="U0BOB")

    assert api.calls_to("chat.postMessage")[0].params == {"channel": "#general", "text": "form"}
    assert api.calls_to("users.info")[0].params == {"user": "U0BOB"}
    assert api.messages("C0GENERAL")[0]["text"] == "form"


async def test_missing_or_wrong_token_is_refused(api: SlackApiStandIn) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=api.url)
    anonymous = AsyncWebClient(base_url=api.url)

    assert (
        await slack_error(wrong.chat_postMessage(channel="C0GENERAL", text="x")) == "invalid_auth"
    )
    assert await slack_error(anonymous.auth_test()) == "not_authed"
    assert api.messages("general") == []


# The SDK warns when blocks come without fallback text; these calls are wrong on purpose.
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"channel": "C0GENERAL"}, "no_text"),
        ({"channel": "C0GENERAL", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "C0GENERAL", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"channel": "C0GENERAL", "blocks": [{"text": "no type"}]}, "invalid_blocks"),
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
    ],
)
async def test_post_message_is_validated_like_slack(
    client: AsyncWebClient, arguments: dict[str, Any], error: str
) -> None:
    assert await slack_error(client.chat_postMessage(**arguments)) == error


async def test_thread_replies_and_updates_show_in_messages(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C0GENERAL", text="incident opened")
    reply = await client.chat_postMessage(
        channel="C0GENERAL", text="step 1", thread_ts=parent["ts"]
    )
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*resolved*"}}]
    updated = await client.chat_update(
        channel="C0GENERAL", ts=parent["ts"], text="resolved", blocks=blocks
    )

    assert updated["message"]["blocks"] == blocks
    head, tail = api.messages("general")
    assert (head["text"], head["blocks"], head["reply_count"]) == ("resolved", blocks, 1)
    assert (tail["ts"], tail["thread_ts"]) == (reply["ts"], parent["ts"])
    assert float(reply["ts"]) > float(parent["ts"])
    missing = client.chat_update(channel="C0GENERAL", ts="1.000001", text="x")
    assert await slack_error(missing) == "message_not_found"


async def test_channels_follow_slack_name_rules(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    created = await client.conversations_create(name="inc-42-api_down", is_private=False)

    channel_id = created["channel"]["id"]
    assert channel_id.startswith("C")
    channel = api.channel_named("inc-42-api_down")
    assert channel is not None and channel.id == channel_id
    for name, error in [
        ("Inc-42", "invalid_name_specials"),
        ("inc 42", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("inc-42-api_down", "name_taken"),
    ]:
        assert await slack_error(client.conversations_create(name=name)) == error


async def test_members_invite_join_and_info(api: SlackApiStandIn, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-1"))["channel"]["id"]
    await client.conversations_invite(channel=channel_id, users=["U0ALICE", "U0BOB"])

    assert api.workspace.channels[channel_id].members == ["UBOT", "U0ALICE", "U0BOB"]
    again = client.conversations_invite(channel=channel_id, users="U0ALICE")
    assert await slack_error(again) == "already_in_channel"
    unknown = client.conversations_invite(channel=channel_id, users="U0NOBODY")
    assert await slack_error(unknown) == "user_not_found"
    joined = await client.conversations_join(channel="C0GENERAL")
    assert joined["channel"]["is_member"] is True
    info = await client.conversations_info(channel="C0GENERAL")
    assert info["channel"]["name"] == "general"


async def test_ephemeral_needs_a_member_and_pins_need_a_message(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    api.add_user("U0CAROL", "carol")
    ephemeral = await client.chat_postEphemeral(
        channel="C0GENERAL", user="U0ALICE", text="only you"
    )
    outsider = client.chat_postEphemeral(channel="C0GENERAL", user="U0CAROL", text="x")
    posted = await client.chat_postMessage(channel="C0GENERAL", text="headline")
    await client.pins_add(channel="C0GENERAL", timestamp=posted["ts"])

    assert ephemeral["message_ts"]
    assert await slack_error(outsider) == "user_not_in_channel"
    assert api.workspace.channels["C0GENERAL"].ephemerals[0]["text"] == "only you"
    assert api.pins("general") == [posted["ts"]]
    assert await slack_error(client.pins_add(channel="C0GENERAL", timestamp=posted["ts"])) == (
        "already_pinned"
    )
    missing = client.pins_add(channel="C0GENERAL", timestamp="1.000001")
    assert await slack_error(missing) == "message_not_found"


async def test_views_take_a_trigger_once_and_update_by_id(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    trigger = new_trigger_id()
    view = {
        "type": "modal",
        "callback_id": "declare",
        "title": {"type": "plain_text", "text": "Declare"},
        "blocks": [],
    }
    opened = await client.views_open(trigger_id=trigger, view=view)
    view_id = opened["view"]["id"]
    updated = await client.views_update(view_id=view_id, view={**view, "private_metadata": "inc-1"})
    expired = new_trigger_id()
    api.expire_trigger(expired)

    assert view_id.startswith("V") and opened["view"]["callback_id"] == "declare"
    assert updated["view"]["private_metadata"] == "inc-1"
    assert api.views[view_id]["private_metadata"] == "inc-1"
    assert (
        await slack_error(client.views_open(trigger_id=trigger, view=view))
        == "exchanged_trigger_id"
    )
    assert (
        await slack_error(client.views_open(trigger_id=expired, view=view)) == "expired_trigger_id"
    )
    assert (
        await slack_error(client.views_open(trigger_id="nonsense", view=view))
        == "invalid_arguments"
    )
    stale = client.views_update(view_id=view_id, view=view, hash="0.0")
    assert await slack_error(stale) == "hash_conflict"
    assert await slack_error(client.views_update(view_id="V0NOPE", view=view)) == "not_found"


async def test_files_upload_v2_shares_the_file_in_a_thread(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C0GENERAL", text="incident")
    result = await client.files_upload_v2(
        channel="C0GENERAL",
        thread_ts=parent["ts"],
        content="post-incident report",
        filename="report.md",
        title="Report",
        initial_comment="Report attached",
    )

    [upload] = api.uploads
    assert result["file"]["id"] == upload.id
    assert (upload.content, upload.title, upload.channel) == (
        b"post-incident report",
        "Report",
        "C0GENERAL",
    )
    shared = api.messages("general")[-1]
    assert shared["thread_ts"] == parent["ts"] and shared["text"] == "Report attached"
    assert [c.method for c in api.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


async def test_identity_methods(api: SlackApiStandIn, client: AsyncWebClient) -> None:
    api.set_usergroup("S0ONCALL", ["U0ALICE"])

    identity = await client.auth_test()
    assert (identity["user_id"], identity["bot_id"]) == ("UBOT", "BBOT")
    assert (await client.users_info(user="U0BOB"))["user"]["name"] == "bob"
    assert (await client.usergroups_users_list(usergroup="S0ONCALL"))["users"] == ["U0ALICE"]
    assert await slack_error(client.users_info(user="U0NOBODY")) == "user_not_found"
    assert await slack_error(client.usergroups_users_list(usergroup="S0NONE")) == "no_such_subteam"


async def test_rate_limit_answers_429_with_retry_after(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    api.rate_limit("chat.postMessage", times=1, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C0GENERAL", text="x")

    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] == "7"
    assert await client.chat_postMessage(channel="C0GENERAL", text="x")


async def test_rate_limited_call_is_retried_by_the_sdk_handler(api: SlackApiStandIn) -> None:
    retrying = AsyncWebClient(
        token=api.bot_token,
        base_url=api.url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    api.rate_limit("chat.postMessage", times=1, retry_after=0)

    await retrying.chat_postMessage(channel="C0GENERAL", text="eventually")

    assert [c.status for c in api.calls_to("chat.postMessage")] == [429, 200]
    assert [m["text"] for m in api.messages("general")] == ["eventually"]


async def test_wait_for_sees_a_later_call_and_reports_a_missing_one(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    later = asyncio.create_task(client.chat_postMessage(channel="C0GENERAL", text="later"))
    call = await api.wait_for("chat.postMessage", lambda c: c.params.get("text") == "later")
    await later

    assert call.response["ok"] is True
    with pytest.raises(AssertionError, match=r"no matching pins\.add call"):
        await api.wait_for("pins.add", timeout=0.05)


async def test_response_url_posts_are_recorded(api: SlackApiStandIn) -> None:
    url = api.response_url("C0GENERAL")
    await AsyncWebhookClient(url).send(text="Incident opened", response_type="in_channel")

    call = await api.wait_for("response_url")
    assert call.params["text"] == "Incident opened"
    assert api.messages("general")[0]["text"] == "Incident opened"


def test_signature_is_accepted_by_the_sdk_verifier() -> None:
    body = slash_command_body(response_url="http://127.0.0.1:1/response/R1", text="api-down")
    headers = sign(body, SECRET)
    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b"&text=tampered", headers)
    assert not verifier.is_valid_request(body, sign(body, SECRET, int(time.time()) - 600))
    assert not verifier.is_valid_request(body, sign(body, "another-secret"))


async def test_signed_requests_reach_a_real_async_app(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    app = AsyncApp(client=client, signing_secret=SECRET)
    seen: dict[str, Any] = {}

    @app.command("/incident")
    async def incident(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        seen["command"] = command
        await respond(text="Opening incident", response_type="in_channel")

    @app.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen["action"] = body

    @app.view("declare")
    async def declare(ack: AsyncAck, view: dict[str, Any]) -> None:
        await ack()
        seen["view"] = view

    async def dispatch(body: bytes, headers: dict[str, str]) -> int:
        request = AsyncBoltRequest(
            body=body.decode(), headers={**headers, "Content-Type": FORM_CONTENT_TYPE}
        )
        return (await app.async_dispatch(request)).status

    command = slash_command_body(response_url=api.response_url("C0GENERAL"), text="api-down")
    action = block_action_body(
        action_id="approve", value="fix-1", message_ts="1.000001", response_url=api.response_url()
    )
    submission = view_submission_body(
        callback_id="declare",
        private_metadata="inc-1",
        state_values={"sev": {"pick": {"value": "1"}}},
    )

    assert await dispatch(command, sign(command, SECRET)) == 200
    assert await dispatch(action, sign(action, SECRET)) == 200
    assert await dispatch(submission, sign(submission, SECRET)) == 200
    assert await dispatch(command + b"x", sign(command, SECRET)) == 401
    assert await dispatch(command, sign(command, SECRET, int(time.time()) - 600)) == 401
    assert seen["command"]["text"] == "api-down"
    assert seen["action"]["actions"][0]["value"] == "fix-1"
    assert seen["view"]["state"]["values"]["sev"]["pick"]["value"] == "1"
    await api.wait_for("response_url")
    assert api.messages("general")[0]["text"] == "Opening incident"


async def test_socket_mode_handler_acks_a_slash_command(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    app = AsyncApp(client=client, signing_secret=SECRET)

    @app.command("/incident")
    async def incident(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=f"Opening {command['text']}")

    @app.action("approve")
    async def approve(ack: AsyncAck) -> None:
        await ack()

    async with SlackSocketStandIn(api) as socket, connected_handler(app, socket):
        command_ack = await socket.wait_for_ack(await socket.send_slash_command(text="api-down"))
        click = block_action_payload(
            action_id="approve", value="fix-1", response_url=api.response_url()
        )
        click_ack = await socket.wait_for_ack(await socket.send_interactive(click))

    assert command_ack["payload"] == {"text": "Opening api-down"}
    assert "payload" not in click_ack
    [opened] = api.calls_to("apps.connections.open")
    assert opened.token == api.app_token and opened.response["url"].startswith("ws://127.0.0.1:")


async def test_socket_mode_reconnects_when_asked(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    app = AsyncApp(client=client, signing_secret=SECRET)
    async with SlackSocketStandIn(api) as socket, connected_handler(app, socket):
        await socket.request_disconnect()
        await socket.wait_connected(count=2)

    assert len(api.calls_to("apps.connections.open")) == 2


async def test_connections_open_needs_the_app_token(
    api: SlackApiStandIn, client: AsyncWebClient
) -> None:
    async with SlackSocketStandIn(api):
        refused = client.apps_connections_open(app_token=api.bot_token)
        assert await slack_error(refused) == "not_allowed_token_type"
        assert (
            json.dumps(api.calls[-1].response) == '{"ok": false, "error": "not_allowed_token_type"}'
        )
