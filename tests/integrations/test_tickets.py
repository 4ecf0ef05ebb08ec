"""Follow-up tickets reach GitHub and Jira stand-ins as their APIs document them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from bot.config import TicketsConfig
from bot.integrations import tickets
from bot.integrations.errors import IntegrationError
from bot.integrations.tickets import Followup, Ticket
from tests.support.ticket_trackers import TrackerStandIn

TOKEN = "tkt-token-7c2e91ab"
FOLLOWUP = Followup(
    incident="INC-7",
    incident_link="https://acme.slack.com/archives/C123",
    item="Add an alert for password=hunter2secret leaks",
    owner="U-OWNER",
    marker="runbook-bot INC-7 within-24h.0 20261206T101010Z",
)


@pytest.fixture
async def stand_in() -> AsyncIterator[TrackerStandIn]:
    server = TrackerStandIn(token=TOKEN)
    await server.start()
    yield server
    await server.stop()


def _config(kind: str, url: str, monkeypatch: pytest.MonkeyPatch) -> TicketsConfig:
    monkeypatch.setenv("TICKETS_TOKEN", TOKEN)
    if kind == "github":
        return TicketsConfig(
            kind="github", repo="acme/ops", base_url=url, token_env="TICKETS_TOKEN"
        )
    return TicketsConfig(
        kind="jira",
        project="OPS",
        email="bot@example.com",
        base_url=url,
        token_env="TICKETS_TOKEN",
    )


async def _create(config: TicketsConfig, followup: Followup = FOLLOWUP) -> Ticket:
    async with httpx.AsyncClient() as http:
        return await tickets.tracker(config, http).create(followup)


async def test_github_issue(stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = await _create(_config("github", stand_in.url, monkeypatch))
    assert ticket == Ticket("#1", "https://github.com/acme/ops/issues/1")
    assert stand_in.refused == []
    (body,) = stand_in.created
    assert body["title"].startswith("[INC-7] Add an alert for")
    assert "hunter2secret" not in body["title"] + body["body"]
    assert "https://acme.slack.com/archives/C123" in body["body"]
    assert "U-OWNER" in body["body"]
    assert body["body"].endswith("\n\nrunbook-bot INC-7 within-24h.0 20261206T101010Z")
    assert body["labels"] == ["post-incident"]


async def test_jira_issue(stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = await _create(_config("jira", stand_in.url, monkeypatch))
    assert ticket == Ticket("OPS-1", f"{stand_in.url}/browse/OPS-1")
    assert stand_in.refused == []
    (fields,) = stand_in.created
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["project"] == {"key": "OPS"}
    texts = [p["content"][0]["text"] for p in fields["description"]["content"]]
    assert any("https://acme.slack.com/archives/C123" in t for t in texts)
    assert any("U-OWNER" in t for t in texts)
    assert "hunter2secret" not in fields["summary"] + " ".join(texts)


@pytest.mark.parametrize("kind", ["github", "jira"])
async def test_wrong_token_is_one_line(
    kind: str, stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(kind, stand_in.url, monkeypatch)
    monkeypatch.setenv("TICKETS_TOKEN", "wrong-token-123")
    with pytest.raises(IntegrationError) as caught:
        await _create(config)
    assert "HTTP 401" in str(caught.value) and "\n" not in str(caught.value)
    assert "wrong-token-123" not in str(caught.value)


@pytest.mark.parametrize(("kind", "status"), [("github", 422), ("github", 500), ("jira", 500)])
async def test_server_errors(
    kind: str, status: int, stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in.fail_with = status
    with pytest.raises(IntegrationError, match=f"HTTP {status}"):
        await _create(_config(kind, stand_in.url, monkeypatch))


async def test_timeout_is_bounded(
    stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in.delay_s = 2.0
    monkeypatch.setattr(tickets, "TIMEOUT_S", 0.2)
    with pytest.raises(IntegrationError, match="Timeout"):
        await _create(_config("github", stand_in.url, monkeypatch))


async def test_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IntegrationError, match="creating the GitHub issue"):
        await _create(_config("github", "http://127.0.0.1:9", monkeypatch))


async def _find(config: TicketsConfig, followup: Followup) -> Ticket | None:
    async with httpx.AsyncClient() as http:
        return await tickets.tracker(config, http).find(followup)


@pytest.mark.parametrize("kind", ["github", "jira"])
async def test_the_marker_finds_the_items_ticket_and_only_it(
    kind: str, stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(kind, stand_in.url, monkeypatch)
    assert await _find(config, FOLLOWUP) is None
    # Its words in another order of punctuation: the tracker's word search finds this one too.
    lookalike = replace(
        FOLLOWUP,
        item="runbook bot INC 7 within 24h 0 20261206t101010z",
        marker="runbook-bot INC-7 within-24h.1 20261206T101010Z",
    )
    await _create(config, lookalike)
    assert await _find(config, FOLLOWUP) is None
    made = await _create(config, FOLLOWUP)
    assert await _find(config, FOLLOWUP) == made
    assert len(stand_in.searched) == 3
    assert stand_in.refused == []


@pytest.mark.parametrize(("kind", "name"), [("github", "GitHub"), ("jira", "Jira")])
async def test_a_failed_search_is_one_line(
    kind: str, name: str, stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in.fail_search_with = 503
    with pytest.raises(IntegrationError) as caught:
        await _find(_config(kind, stand_in.url, monkeypatch), FOLLOWUP)
    assert str(caught.value) == f"searching {name} issues: HTTP 503 Service Unavailable"


async def test_github_mentions_nobody(
    stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    loud = replace(
        FOLLOWUP,
        item="@octocat and @acme/sre: check `@here` with ops@example.com",
        owner="Bob (@bob)",
    )
    await _create(_config("github", stand_in.url, monkeypatch), loud)
    (issue,) = stand_in.created
    for text in (issue["title"], issue["body"]):
        assert not re.search(r"@[A-Za-z0-9]", text), text
        assert "@\u200boctocat and @\u200bacme/sre" in text
    assert "Owner: Bob (@\u200bbob)" in issue["body"]


async def test_jira_text_is_sent_as_written(
    stand_in: TrackerStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ADF text nodes are never mentions (a mention is a node of its own), nor is [~name] markup.
    loud = replace(FOLLOWUP, item="@octocat and [~bob] to look", owner="Bob (@bob)")
    await _create(_config("jira", stand_in.url, monkeypatch), loud)
    (fields,) = stand_in.created
    nodes = [n for p in fields["description"]["content"] for n in p["content"]]
    assert {n["type"] for n in nodes} == {"text"}
    texts = [n["text"] for n in nodes]
    assert "Post-incident follow-up from INC-7: @octocat and [~bob] to look" in texts
    assert "Owner: Bob (@bob)" in texts
    assert fields["summary"] == "[INC-7] @octocat and [~bob] to look"


async def test_no_config_or_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(IntegrationError, match="no ticket tracker configured"):
            tickets.tracker(None, http)
        config = _config("github", "http://127.0.0.1:9", monkeypatch)
        monkeypatch.delenv("TICKETS_TOKEN")
        with pytest.raises(IntegrationError, match=r"\$TICKETS_TOKEN"):
            tickets.tracker(config, http)


def test_config_needs_its_target() -> None:
    with pytest.raises(ValueError, match="repo"):
        TicketsConfig(kind="github", token_env="T")
    with pytest.raises(ValueError, match="project and email"):
        TicketsConfig(kind="jira", project="OPS", token_env="T")
