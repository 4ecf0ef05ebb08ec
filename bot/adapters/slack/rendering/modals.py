"""The status-update and resolve modals as Slack views: prefilled, previewed, within limits."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.adapters.slack.actions import (
    RESOLVE_CAUSE,
    RESOLVE_RESOLUTION,
    RESOLVE_VIEW,
    STATUS_ETA,
    STATUS_TEMPLATE,
    STATUS_TEXT,
    STATUS_VIEW,
)
from bot.adapters.slack.rendering.escape import shorten, truncate
from bot.adapters.slack.rendering.limits import INPUT_INITIAL, SECTION_TEXT
from bot.adapters.slack.rendering.parts import section

__all__ = ["View", "resolve_modal", "status_modal"]

# Slack's limits on an option's label and value.
_OPTION_TEXT = 75
_OPTION_VALUE = 150


def status_modal(
    incident_id: str,
    choices: list[tuple[str, str]],
    chosen: str,
    text: str,
    eta: str,
    needs_eta: bool,
    preview: str,
) -> View:
    """Pick a template, give an ETA, edit the filled text, see it rendered; submit posts it."""
    options = [
        Option(value=value[:_OPTION_VALUE], text=_plain(truncate(label, _OPTION_TEXT) or value))
        for value, label in choices
    ]
    initial = next((o for o, (value, _) in zip(options, choices, strict=True) if value == chosen))
    blocks: list[Block] = [
        InputBlock(
            block_id=STATUS_TEMPLATE,
            label=_plain("Template"),
            dispatch_action=True,
            element=StaticSelectElement(
                action_id=STATUS_TEMPLATE, options=options, initial_option=initial
            ),
        ),
        InputBlock(
            block_id=STATUS_ETA,
            label=_plain("ETA"),
            optional=not needs_eta,
            hint=_plain("Needed by this template." if needs_eta else "Optional."),
            element=PlainTextInputElement(
                action_id=STATUS_ETA,
                initial_value=truncate(eta, 150) or None,
                placeholder=_plain("e.g. 14:30 UTC, or within the hour"),
            ),
        ),
        InputBlock(
            # Slack keeps what was typed in an input whose block_id is unchanged; a new id per
            # template lets a template change replace the text.
            block_id=f"{STATUS_TEXT}.{chosen}",
            label=_plain("Message"),
            element=PlainTextInputElement(
                action_id=STATUS_TEXT,
                multiline=True,
                initial_value=truncate(text, INPUT_INITIAL) or None,
                max_length=INPUT_INITIAL,
            ),
        ),
        section("*Preview*\n" + (shorten(preview, SECTION_TEXT - 20) or "_empty_")),
    ]
    return _modal(STATUS_VIEW, incident_id, "Status update", "Post", blocks)


def resolve_modal(incident_id: str, root_cause: str = "", resolution: str = "") -> View:
    """Root cause and resolution, both required; submitting resolves the incident."""
    blocks: list[Block] = [
        _text_input(RESOLVE_CAUSE, "Root cause", root_cause, "What caused the outage?"),
        _text_input(RESOLVE_RESOLUTION, "Resolution", resolution, "What fixed it?"),
    ]
    return _modal(RESOLVE_VIEW, incident_id, "Resolve incident", "Resolve", blocks)


def _modal(
    callback_id: str, incident_id: str, title: str, submit: str, blocks: list[Block]
) -> View:
    """A modal about one incident, which its submission handler reads from private_metadata."""
    return View(
        type="modal",
        callback_id=callback_id,
        private_metadata=incident_id,
        title=_plain(title),
        submit=_plain(submit),
        close=_plain("Cancel"),
        blocks=blocks,
    )


def _text_input(action_id: str, label: str, initial: str, placeholder: str) -> InputBlock:
    return InputBlock(
        block_id=action_id,
        label=_plain(label),
        element=PlainTextInputElement(
            action_id=action_id,
            multiline=True,
            initial_value=truncate(initial, INPUT_INITIAL) or None,
            max_length=INPUT_INITIAL,
            placeholder=_plain(placeholder),
        ),
    )


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text, emoji=True)
