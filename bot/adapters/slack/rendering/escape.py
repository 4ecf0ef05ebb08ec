"""Slack mrkdwn escaping: user and cluster text can format but never mention, link or break out."""

from __future__ import annotations

import re

from bot.redact import redact

ELLIPSIS = "…"
# A zero-width space: splits a token Slack would act on without changing what people read.
_ZWSP = "\u200b"
_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]+$")
_FENCE = "```"
# Raw text kept beyond a limit before escaping: escaping can only grow text, and redacting the
# whole of a huge output would cost far more than the few characters shown.
_MARGIN = 256
_NAME = 100
# The longest <…> token the bot writes itself (a date, a permalink); a cut never splits one.
_TOKEN = 300
# Looks like a backtick but does not end inline code.
_GRAVE = "\u02cb"


def escape(text: str) -> str:
    """Redact, then escape `& < >` and defuse `@here`-style words and code fences."""
    text = redact(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _BROADCAST.sub(lambda m: f"@{_ZWSP}{m[1]}", text)
    text = text.replace(_FENCE, f"`{_ZWSP}`{_ZWSP}`")
    # A backtick at either end would merge with a fence or inline-code mark placed around it.
    if text.startswith("`"):
        text = _ZWSP + text
    if text.endswith("`"):
        text += _ZWSP
    return text


def unescape(text: str) -> str:
    """A Slack message's text as people typed it: Slack sends `& < >` as entities, which
    `escape` would otherwise escape a second time."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "…" when cut; never splits an entity or a <token>."""
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:] and len(cut) - amp < len("&amp;"):
        cut = cut[:amp]
    opened = cut.rfind("<")
    if opened > cut.rfind(">") and len(cut) - opened <= _TOKEN:
        cut = cut[:opened]
    return cut + ELLIPSIS


def shorten(text: str, limit: int) -> str:
    """Escaped text of at most `limit` characters, ending in "…" when cut."""
    if len(text) <= limit + _MARGIN:
        return truncate(escape(text), limit)
    body = truncate(escape(text[: limit + _MARGIN]), limit)
    # Redaction can shrink the text, so the cut may not have shown yet.
    return body if body.endswith(ELLIPSIS) else truncate(body + ELLIPSIS, limit)


def code_block(text: str, limit: int = 2900) -> str:
    """A fenced code block of escaped text, `limit` characters at most including the fences."""
    body = shorten(text.strip("\n"), limit - 2 * len(_FENCE)) or " "
    return f"{_FENCE}{body}{_FENCE}"


def inline_code(text: str, limit: int = 1000) -> str:
    """One line of escaped inline code; a backtick inside would end it, so it is replaced."""
    body = shorten(" ".join(text.split()), limit - 2).replace("`", _GRAVE)
    return f"`{body or ' '}`"


def is_user_id(text: str) -> bool:
    return bool(_USER_ID.match(text))


def mention(user: str) -> str:
    """`<@U…>` for a Slack user id; anything else (a console name, a label) as escaped text."""
    return f"<@{user}>" if is_user_id(user) else shorten(user, _NAME)


def channel(room: str) -> str:
    """`<#C…>` for a channel id, a link for a permalink, escaped text otherwise."""
    if _CHANNEL_ID.match(room):
        return f"<#{room}>"
    if room.startswith("https://") and not any(c in room for c in "<>| \n"):
        return f"<{room.replace('&', '&amp;')}|incident thread>"
    return escape(room)
