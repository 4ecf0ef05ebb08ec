"""Slack rendering of the real api-down playbook: limits, escaping, buttons and modals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.adapters.slack import actions
from bot.adapters.slack.actions import ButtonValue
from bot.adapters.slack.rendering.blocks import (
    announcement_message,
    approval_message,
    headline_message,
    help_message,
    incident_list_message,
    output_is_long,
    results_message,
    stage_messages,
    timeline_text,
)
from bot.adapters.slack.rendering.escape import code_block, escape, inline_code, mention, truncate
from bot.adapters.slack.rendering.limits import INPUT_INITIAL, SECTION_TEXT, validate, validate_view
from bot.adapters.slack.rendering.message import MAX_BLOCKS, Message, split
from bot.adapters.slack.rendering.modals import resolve_modal, status_modal
from bot.engine.headline import headline
from bot.engine.incident import Actor, Approval, Incident, ManualDone, StepRun
from bot.engine.root_causes import suggest_causes
from bot.executors.base import CheckResult, Finding, Preview
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[3]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
INJECTION = "<!channel> @here ping <http://evil.example|click> <@U123> & `x` ```fence```"
LONG = ("lorem ipsum " * 1000)[:10_000]
# One unbroken token: the worst case for the credential patterns redaction runs.
TOKEN = "x" * 10_000


@pytest.fixture(scope="module")
def playbooks() -> dict[str, Playbook]:
    return load_playbooks(REPO / "playbooks", TemplateRenderer(REPO / "templates"))


@pytest.fixture(scope="module")
def playbook(playbooks: dict[str, Playbook]) -> Playbook:
    return playbooks["api-down"]


def make_incident(**changes: Any) -> Incident:
    fields: dict[str, Any] = {
        "id": "INC-0007",
        "playbook_id": "api-down",
        "service": "ecap-api",
        "summary": "API returns 503",
        "severity": "critical",
        "opened_at": T0,
        "opened_by": "U0ALICE",
    }
    return Incident(**(fields | changes))


def run(step_id: str, status: str = "ok", **changes: Any) -> StepRun:
    fields: dict[str, Any] = {
        "step_id": step_id,
        "status": status,
        "summary": f"{step_id} looks {status}",
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=2),
        "actor": "U0ALICE",
    }
    return StepRun(**(fields | changes))


def approval(**changes: Any) -> Approval:
    fields: dict[str, Any] = {
        "id": "A1",
        "step_id": "stop-traffic",
        "title": "Stop traffic",
        "destructive": True,
        "preview": Preview(
            summary="service selector app=ecap-api -> app=maintenance", diff="-a\n+b"
        ),
        "requested_by": Actor(id="U0ALICE", name="alice"),
        "requested_at": T0,
        "expires_at": T0 + timedelta(minutes=15),
    }
    return Approval(**(fields | changes))


def checked(messages: list[Message]) -> list[Message]:
    """Every message passes our limits and the SDK's own validation, and has fallback text."""
    for message in messages:
        validate(message)
        assert message.text.strip()
        for block in message.blocks:
            block.validate_json()
            json.dumps(block.to_dict())
    return messages


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def dump(message: Message) -> str:
    """The fallback and every string in the blocks, as Slack would read them."""
    return "\n".join([message.text, *strings([b.to_dict() for b in message.blocks])])


def buttons(messages: list[Message]) -> list[ButtonElement]:
    found: list[ButtonElement] = []
    for message in messages:
        for block in message.blocks:
            if isinstance(block, ActionsBlock):
                found += [e for e in block.elements if isinstance(e, ButtonElement)]
            elif isinstance(block, SectionBlock) and isinstance(block.accessory, ButtonElement):
                found.append(block.accessory)
    return found


def assert_no_injection(text: str) -> None:
    for bad in ("<!channel>", "@here", "<http://evil", "<@U123>", "``````"):
        assert bad not in text


# -- stages ------------------------------------------------------------------------------------


def test_every_stage_renders_within_limits_with_buttons_for_its_stage(playbook: Playbook) -> None:
    kinds = set()
    for index, stage in enumerate(playbook.stages):
        incident = make_incident(stage_index=index)
        messages = checked(stage_messages(incident, playbook))
        assert len(messages) == 1
        found = buttons(messages)
        ids = [b.action_id for b in found]
        for element in found:
            value = ButtonValue.decode(element.value)
            assert (value.incident, value.stage) == ("INC-0007", index)
        has_diagnostics = any(s.kind == "diagnostic" for s in stage.all_steps())
        assert (actions.RUN_STAGE in ids) == has_diagnostics
        assert (actions.ADVANCE in ids) == (index < len(playbook.stages) - 1)
        by_step = {ButtonValue.decode(b.value).step: b for b in found}
        for step in stage.all_steps():
            kinds.add(step.kind)
            expected = {
                "diagnostic": actions.RUN_STEP,
                "fix": actions.REQUEST_FIX,
                "manual": actions.MARK_DONE,
                "communication": actions.STATUS_MODAL,
                "verification": actions.VERIFY,
            }[step.kind]
            assert by_step[step.id].action_id == expected
            if step.kind == "fix":
                assert (by_step[step.id].style == "danger") == step.destructive
        if stage.steps and stage.steps[0].command:
            assert inline_code(stage.steps[0].command) in dump(messages[0])
    assert kinds == {"diagnostic", "fix", "manual", "communication", "verification"}


def test_the_root_cause_stage_shows_each_cause_with_its_symptoms_then_its_steps(
    playbook: Playbook,
) -> None:
    index = next(i for i, s in enumerate(playbook.stages) if s.root_causes)
    [message] = checked(stage_messages(make_incident(stage_index=index), playbook))
    text = dump(message)
    for cause in playbook.stages[index].root_causes:
        assert f"Root cause: {cause.title}" in text
        assert escape(cause.symptoms[0].text) in text
    order = []
    for b in message.blocks:
        if isinstance(b, SectionBlock) and b.accessory:
            assert isinstance(b.accessory, ButtonElement)
            order.append(b.accessory.value)
    steps = [ButtonValue.decode(v).step for v in order if v]
    assert steps == [s.id for s in playbook.stages[index].all_steps()]


def test_step_states_show_results_approvals_and_done_items(playbook: Playbook) -> None:
    incident = make_incident(
        stage_index=1,
        step_runs={"history": run("history", "problem", summary=LONG + INJECTION)},
        approvals={"A1": approval(step_id="restart", destructive=False, state="applied")},
    )
    [message] = checked(stage_messages(incident, playbook))
    text = dump(message)
    assert ":warning: lorem ipsum" in text and "fix applied" in text
    assert_no_injection(text)
    done = make_incident(
        stage_index=2, manual_done={"customer-reports": ManualDone(by="U0BOB", at=T0)}
    )
    [message] = checked(stage_messages(done, playbook))
    assert "done by <@U0BOB>" in dump(message)
    assert actions.MARK_DONE not in [b.action_id for b in buttons([message])]


def test_a_resolved_incident_has_no_buttons(playbook: Playbook) -> None:
    incident = make_incident(status="resolved", resolved_at=T0 + timedelta(hours=1), stage_index=6)
    messages = checked(stage_messages(incident, playbook))
    assert buttons(messages) == []
    h = headline(incident, playbook, T0 + timedelta(hours=2))
    [resolved] = checked([headline_message(h, resolved=True)])
    assert buttons([resolved]) == []


def test_a_stage_over_fifty_blocks_splits_with_the_same_fallback(playbook: Playbook) -> None:
    steps = [{"id": f"item-{n}", "kind": "manual", "title": f"Item {n}"} for n in range(70)]
    big = Playbook.model_validate(
        playbook.model_dump() | {"stages": [{"id": "big", "title": "Big", "steps": steps}] * 2}
    )
    messages = checked(stage_messages(make_incident(), big))
    assert [len(m.blocks) for m in messages] == [50, 23]
    assert len({m.text for m in messages}) == 1
    assert isinstance(messages[-1].blocks[-1], ActionsBlock)
    assert len(buttons(messages)) == 71


def test_split_keeps_order_and_small_messages_whole() -> None:
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=str(n))) for n in range(120)]
    parts = split(Message("fallback", list(blocks)))
    assert [len(p.blocks) for p in parts] == [50, 50, 20]
    assert [b for p in parts for b in p.blocks] == blocks
    small = Message("fallback", blocks[:3])
    assert split(small) == [small]


# -- headline, results, approvals ----------------------------------------------------------------


def test_the_headline_has_every_fact_three_buttons_and_its_flags(playbook: Playbook) -> None:
    incident = make_incident(commander="U0BOB", approvals={"A1": approval()})
    h = headline(incident, playbook, T0 + timedelta(minutes=7))
    [message] = checked([headline_message(h)])
    text = dump(message)
    for fact in ("7 min", "<@U0BOB>", "Stage 1/9", "level 2 (Engineering Manager)", "none yet"):
        assert fact in text
    found = buttons([message])
    # Then a flag button for each condition api-down's levels escalate on.
    assert [b.action_id for b in found] == [
        actions.STATUS_MODAL,
        actions.COMMANDER,
        actions.RESOLVE,
        f"{actions.RAISE_FLAG}.customer-escalations",
        f"{actions.RAISE_FLAG}.data-loss",
        f"{actions.RAISE_FLAG}.security-suspected",
    ]
    assert {ButtonValue.decode(b.value).incident for b in found} == {"INC-0007"}
    assert [ButtonValue.decode(b.value).flag for b in found[3:]] == [
        "customer-escalations",
        "data-loss",
        "security-suspected",
    ]


def test_results_point_at_the_cause_and_offer_its_fixes(playbook: Playbook) -> None:
    huge = INJECTION + "\n" + "\n".join(f"line {n} <@U123>" for n in range(10_000))
    runs = [
        run("pods", "problem", summary=TOKEN, output=huge, findings=[
            Finding(name="pod.phase", value="Pending", subject="ecap-api-1"),
            Finding(name="pod.last_termination_reason", value="OOMKilled", subject=INJECTION),
            Finding(name="pod.restarts", value=7),
            Finding(name="pod.ready", value=False),
        ]),
        run("health", "error", summary="connection refused", output="short output"),
        run("lb-health"),
    ]  # fmt: skip
    incident = make_incident(step_runs={r.step_id: r for r in runs})
    causes = suggest_causes(playbook, incident)
    [message] = checked([results_message(incident, playbook, runs, causes)])
    text = dump(message)
    assert_no_injection(text)
    assert "Suggested root cause: Resource exhaustion" in text
    assert "1 more findings" in text and "the full output is attached" in text
    assert "line 13 " in text and "line 14 " not in text
    assert output_is_long(runs[0]) and not output_is_long(runs[1])
    targets = {ButtonValue.decode(b.value).step: b.action_id for b in buttons([message])}
    assert targets["scale-up-resources"] == actions.REQUEST_FIX
    assert targets["rollback"] == actions.REQUEST_FIX  # see also, from another stage
    assert targets["history"] == actions.RUN_STEP
    assert {ButtonValue.decode(b.value).stage for b in buttons([message])} == {0}


def test_results_without_a_matching_cause_say_so(playbook: Playbook) -> None:
    incident = make_incident()
    [message] = checked([results_message(incident, playbook, [run("pods")], [])])
    assert "No root cause matches" in dump(message)
    assert buttons([message]) == []


def test_results_of_many_runs_stay_within_fifty_blocks(playbook: Playbook) -> None:
    runs = [run("pods", summary=LONG, output=LONG) for _ in range(80)]
    [message] = checked([results_message(make_incident(), playbook, runs, [])])
    assert len(message.blocks) == MAX_BLOCKS
    assert "more results not shown" in dump(message)


def test_a_pending_destructive_approval_asks_for_another_approver(playbook: Playbook) -> None:
    incident = make_incident()
    [message] = checked([approval_message(incident, approval())])
    text = dump(message)
    assert "needs an approver other than <@U0ALICE>" in text
    assert "```-a\n+b```" in text and "<!date^" in text
    found = buttons([message])
    assert [(b.action_id, b.style) for b in found] == [
        (actions.APPROVE, "primary"),
        (actions.DENY, "danger"),
    ]
    assert found[0].confirm is not None
    assert {ButtonValue.decode(b.value).approval for b in found} == {"A1"}


def test_an_approval_whose_dry_run_failed_can_only_be_denied(playbook: Playbook) -> None:
    failed = approval(preview=Preview(summary="forbidden", error="deployments is forbidden"))
    [message] = checked([approval_message(make_incident(), failed)])
    assert [b.action_id for b in buttons([message])] == [actions.DENY]
    assert "cannot be approved" in dump(message)


@pytest.mark.parametrize("state", ["applied", "failed", "denied", "expired"])
def test_a_decided_approval_shows_its_outcome_and_no_buttons(state: str) -> None:
    decided = approval(
        state=state,
        destructive=False,
        preview=Preview(summary="replicas 2 -> 5", before=LONG, after=INJECTION),
        decided_by=Actor(id="console-user", name=INJECTION),
        decided_at=T0 + timedelta(minutes=1),
        result=CheckResult(status="ok", summary="scaled " + LONG),
        verification=CheckResult(status="problem", summary="2/5 ready"),
    )
    [message] = checked([approval_message(make_incident(), decided)])
    text = dump(message)
    assert buttons([message]) == []
    assert state.capitalize() in text and "Verification: :warning: 2/5 ready" in text
    assert_no_injection(text)


# -- commands and announcements ------------------------------------------------------------------


def test_help_lists_usage_playbooks_and_services(playbooks: dict[str, Playbook]) -> None:
    [message] = checked([help_message(playbooks, ["conduit-api", "ecap-api"])])
    text = dump(message)
    for expected in ("/incident PLAYBOOK [SERVICE] [SUMMARY]", "`api-down` API Service Down"):
        assert expected in text
    assert "`ecap-api`" in text and "timeline" in text and "resolve" in text


def test_the_incident_list_is_escaped_and_bounded(playbooks: dict[str, Playbook]) -> None:
    now = T0 + timedelta(minutes=42)
    incidents = [
        make_incident(id=f"INC-{n:04d}", summary=INJECTION + LONG, commander=INJECTION)
        for n in range(60)
    ]
    [message] = checked([incident_list_message(incidents, playbooks, now)])
    text = dump(message)
    assert "42 min" in text and "stage 1/9" in text
    assert_no_injection(text)
    assert len(message.blocks) == MAX_BLOCKS
    [empty] = checked([incident_list_message([], playbooks, now)])
    assert "No open incidents" in empty.text


def test_the_announcement_mentions_only_the_opener(playbook: Playbook) -> None:
    incident = make_incident(summary=INJECTION + LONG)
    [message] = checked([announcement_message(incident, playbook, "C0INCIDENT")])
    text = dump(message)
    assert "<@U0ALICE>" in text and "<#C0INCIDENT>" in text and "INC-0007" in message.text
    assert_no_injection(text)
    link = "https://example.slack.com/archives/C1/p123?thread_ts=1&cid=C1"
    [linked] = checked([announcement_message(incident, playbook, link)])
    assert "|incident thread>" in dump(linked) and "&amp;cid" in dump(linked)
    impostor = make_incident(opened_by="<!channel>")
    [message] = checked([announcement_message(impostor, playbook, "<!here>")])
    assert_no_injection(dump(message))


def test_the_timeline_is_plain_redacted_text(playbook: Playbook) -> None:
    incident = make_incident()
    incident.record(T0, Actor(id="U0ALICE"), "opened", "API returns 503 password=hunter2")
    text = timeline_text(incident)
    assert "INC-0007" in text and "2024-05-01T12:00:00+00:00" in text
    assert "hunter2" not in text and "API returns 503" in text


# -- escaping and limits ---------------------------------------------------------------------


def test_escape_defuses_mentions_links_and_fences() -> None:
    escaped = escape(INJECTION)
    assert_no_injection(escaped)
    assert "&lt;!channel&gt;" in escaped and "&amp;" in escaped
    assert escape("`edge`").startswith("\u200b`") and escape("`edge`").endswith("`\u200b")
    assert mention("U0ALICE") == "<@U0ALICE>" and mention("W0BOB") == "<@W0BOB>"
    assert mention("<!channel>") == "&lt;!channel&gt;" and mention("u0lower") == "u0lower"


def test_truncate_and_code_blocks_never_exceed_their_limit() -> None:
    assert truncate("abcdef", 4) == "abc…" and truncate("abc", 4) == "abc"
    assert truncate(escape("a&b"), 4) == "a…"  # never half an entity
    assert truncate("hi <@U0ALICE> there", 8) == "hi …"  # never half a mention
    for text in (LONG, "<" * 5000, "```" * 3000, INJECTION * 200):
        block = code_block(text)
        assert len(block) <= 2900 and block.startswith("```") and block.endswith("```")
        assert block[3:-3].count("```") == 0
    assert code_block("") == "``` ```"
    assert "`" not in inline_code("echo `id`")[1:-1]


def test_validate_names_the_broken_limit() -> None:
    ok = SectionBlock(text=MarkdownTextObject(text="ok"))
    cases = {
        "fallback text": Message(" ", [ok]),
        "at most 50 blocks": Message("t", [ok] * 51),
        "3000": Message("t", [SectionBlock(text=MarkdownTextObject(text="x" * 3001))]),
        "field exceeds 2000": Message("t", [SectionBlock(fields=["x" * 2001])]),
        "empty mrkdwn": Message("t", [SectionBlock(text=MarkdownTextObject(text=""))]),
        "duplicate block_id": Message(
            "t", [DividerBlock(block_id="a"), DividerBlock(block_id="a")]
        ),
        "duplicate action_id": Message(
            "t", [ActionsBlock(elements=[ButtonElement(text="a", action_id="x")] * 2)]
        ),
    }
    for limit, message in cases.items():
        with pytest.raises(ValueError, match=limit):
            validate(message)


# -- modals -------------------------------------------------------------------------------------


def test_the_status_modal_is_prefilled_and_bounded() -> None:
    choices = [("initial", "Initial status update"), ("extended", "Extended outage " + LONG)]
    view = status_modal("INC-0007", choices, "extended", LONG, "", True, INJECTION + LONG)
    validate_view(view)
    data = view.to_dict()
    assert data["callback_id"] == actions.STATUS_VIEW and data["private_metadata"] == "INC-0007"
    template, eta, message, preview = data["blocks"]
    assert template["dispatch_action"] is True
    assert template["element"]["action_id"] == actions.STATUS_TEMPLATE
    assert template["element"]["initial_option"]["value"] == "extended"
    assert eta["element"]["action_id"] == actions.STATUS_ETA and eta["optional"] is False
    assert message["element"]["action_id"] == actions.STATUS_TEXT
    assert len(message["element"]["initial_value"]) <= INPUT_INITIAL
    assert len(preview["text"]["text"]) <= SECTION_TEXT
    assert_no_injection("\n".join(strings(preview)))
    assert (data["submit"]["text"], data["close"]["text"]) == ("Post", "Cancel")
    optional = status_modal("INC-0007", choices, "initial", "hi", "soon", False, "hi").to_dict()
    assert optional["blocks"][1]["optional"] is True
    assert optional["blocks"][1]["element"]["initial_value"] == "soon"
    # A new template must replace the typed text, so its input gets a new block id.
    assert optional["blocks"][2]["block_id"] != message["block_id"]


def test_the_resolve_modal_asks_for_cause_and_resolution() -> None:
    view = resolve_modal("INC-0007")
    validate_view(view)
    data = view.to_dict()
    assert data["callback_id"] == actions.RESOLVE_VIEW and data["private_metadata"] == "INC-0007"
    ids = [b["element"]["action_id"] for b in data["blocks"]]
    assert ids == [actions.RESOLVE_CAUSE, actions.RESOLVE_RESOLUTION]
