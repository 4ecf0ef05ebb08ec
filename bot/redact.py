"""Keeps secret values out of everything the bot shows, stores or logs.

Three layers, each masking whole values: values known to be secret (tokens the bot itself holds,
registered at start) wherever they appear; values under a sensitive name (`DB_PASSWORD=...`,
`"apiKey": "..."`, `Authorization: ...`, a URL's password), to the end of the quoted string, the
line or the URL's userinfo; and known credential formats (`bot.secret_formats`).
"""

from __future__ import annotations

import itertools
import re
import threading

from bot import secret_formats

MASK = "[redacted]"

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "webhook", "credential")
_SECRET_NAMES = frozenset({"pwd", "pass", "salt", "auth", "authorization", "dsn", "cookie"})
# Plurals name a list of secrets ("Missing/invalid secrets: ..."), never hold one.
_LIST_WORDS = frozenset({"secrets", "tokens", "passwords"})
_KEY_KINDS = frozenset({"access", "private", "signing", "session", "secret", "api", "encryption"})

# `name<sep>value` on one line; the name starts at a word boundary and is bounded in length, so
# long runs of letters (base64, minified JSON) cost linear time.
_ASSIGNMENT = re.compile(
    r"(?<![\w.])(?P<quote>[\"']?)(?P<key>[A-Za-z_][\w.-]{0,60})(?P=quote)"
    r"(?P<sep>[ \t]{0,4}(?::=|=>|[:=])[ \t]{0,4})"
)
_QUOTED = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")
_REST_OF_LINE = re.compile(r"[^\r\n]+")
# Code in a stack trace (`secret = os.environ['SESSION_SECRET']`) names where a value comes
# from; it is not the value.
_LOOKUP = re.compile(r"[A-Za-z_][\w.]*(?:\(\)|[\[(]['\"]?[A-Z][A-Z0-9_]*['\"]?[\])])[ \t]*")
# The password of a URL runs to the last `@` of its token: passwords may hold `@` and `/`.
_URL_PASSWORD = re.compile(
    r"(?P<head>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,30}://[^/\s:@\"'<>|]{0,256}:)"
    r"(?P<pw>[^\s\"'<>|`]*)@",
    re.IGNORECASE,
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{6,}")

_known: set[str] = set()
_lock = threading.Lock()


def is_sensitive_name(name: str) -> bool:
    """True for names like DB_PASSWORD, apiKey, SESSION_SECRET, hmac.key, SALT, webhook_url."""
    words = [w for w in (w.lower() for w in _WORD.findall(name)) if w not in _LIST_WORDS]
    if any(part in word for word in words for part in _SECRET_WORDS):
        return True
    # Run-together names: requirepass, masterauth, hmacsha256.
    if any(
        word in _SECRET_NAMES or word.startswith("hmac") or word.endswith(("pass", "auth"))
        for word in words
    ):
        return True
    if len(words) > 1 and words[-1] in ("key", "keys"):
        return True
    return any(a in _KEY_KINDS and b == "key" for a, b in itertools.pairwise(words))


def register_secret(value: str | None) -> None:
    """Remember a value that must never be shown, e.g. the cluster token the bot holds."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """Mask registered secrets and anything that looks like a credential, whole."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        text = text.replace(value, MASK)
    text = _PRIVATE_KEY.sub(MASK, text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    text = _mask_assignments(text)
    text = _BEARER.sub(lambda m: f"{m['head']}{MASK}", text)
    text = _SLACK_TOKEN.sub(MASK, text)
    return "".join(_mask_formats(line) for line in text.splitlines(keepends=True))


def redact_value(name: str, value: str) -> str:
    """The value of a named setting as it may be shown: masked if the name is sensitive."""
    return MASK if is_sensitive_name(name) else redact(value)


def _mask_assignments(text: str) -> str:
    """Mask the value after every sensitive name: a quoted string to its closing quote, else
    the rest of the line (a value may hold spaces, commas and `=`)."""
    out: list[str] = []
    pos = 0
    search_from = 0
    while (match := _ASSIGNMENT.search(text, search_from)) is not None:
        if not is_sensitive_name(match["key"]):
            search_from = match.end("key")
            continue
        start = match.end()
        quoted = _QUOTED.match(text, start)
        if quoted is not None:
            out += [text[pos:start], quoted.group()[0], MASK, quoted.group()[-1]]
            pos = search_from = quoted.end()
            continue
        rest = _REST_OF_LINE.match(text, start)
        if rest is None or rest.group().strip() in ("", MASK) or _LOOKUP.fullmatch(rest.group()):
            search_from = start
            continue
        out += [text[pos:start], MASK]
        pos = search_from = rest.end()
    out.append(text[pos:])
    return "".join(out)


def _mask_formats(line: str) -> str:
    found = sorted(secret_formats.spans(line))
    if not found:
        return line
    out: list[str] = []
    pos = 0
    for start, end in found:
        if end <= pos:
            continue
        out += [line[pos : max(pos, start)], MASK]
        pos = end
    out.append(line[pos:])
    return "".join(out)
