"""Keeps secret values out of everything the bot shows, stores or logs.

Two layers: values known to be secret (tokens the bot itself holds, registered at start) are
replaced wherever they appear, and text that looks like a credential (key=value pairs with a
sensitive key, passwords in URLs, bearer and Slack tokens) is masked by pattern.
"""

from __future__ import annotations

import re
import threading

MASK = "[redacted]"

_SENSITIVE_NAME = re.compile(
    r"(pass(word|wd)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"credential|auth|session[_-]?key|signing[_-]?key|dsn|cookie)",
    re.IGNORECASE,
)
# Keys start at a word boundary and are bounded in length, so a long run of letters (base64,
# minified JSON) costs linear time instead of backtracking over every start and end.
_KEY_VALUE = re.compile(
    r"(?<![A-Za-z0-9_.-])(?P<key>[A-Za-z0-9_.-]{0,40}?(?:pass(?:word|wd)?|pwd|secret|token|"
    r"api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|authorization|"
    r"session[_-]?key|signing[_-]?key)[A-Za-z0-9_.-]{0,40})"
    r"(?P<sep>\"?\s{0,4}[:=]\s{0,4}\"?)(?P<value>[^\s\",;&]+)",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(
    r"(?P<head>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,30}://[^/\s:@]{0,256}:)(?P<pw>[^@\s/]{1,256})(?P<at>@)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{6,}")

_known: set[str] = set()
_lock = threading.Lock()


def is_sensitive_name(name: str) -> bool:
    """True for names like DB_PASSWORD, apiKey, SESSION_SECRET."""
    return bool(_SENSITIVE_NAME.search(name))


def register_secret(value: str | None) -> None:
    """Remember a value that must never be shown, e.g. the cluster token the bot holds."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """Mask registered secrets and anything that looks like a credential."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
    text = _BEARER.sub(lambda m: f"{m['head']}{MASK}", text)
    text = _SLACK_TOKEN.sub(MASK, text)
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)


def redact_value(name: str, value: str) -> str:
    """The value of a named setting as it may be shown: masked if the name is sensitive."""
    return MASK if is_sensitive_name(name) else redact(value)
