"""Known credential formats in free text, found with the detect-secrets plugins.

The plugins' patterns are maintained upstream (AWS, GitHub, Slack, Stripe, JWT, private keys,
basic-auth URLs, keyword assignments, high-entropy strings, ...); this module only turns what they
find into spans to mask, widened to the whole token, since some patterns match just a prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from detect_secrets.filters.heuristic import is_potential_uuid, is_sequential_string
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
    HighEntropyStringsPlugin,
)
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector

Span = tuple[int, int]

# Format detectors only: the IP-address, Artifactory and Twilio patterns match ordinary words
# and addresses in logs, and the vendor keyword detectors (IBM, Cloudant, Softlayer) are
# covered by the key-name rule in bot.redact.
_FORMATS: tuple[RegexBasedDetector, ...] = (
    AWSKeyDetector(),
    AzureStorageKeyDetector(),
    BasicAuthDetector(),
    DiscordBotTokenDetector(),
    GitHubTokenDetector(),
    GitLabTokenDetector(),
    JwtTokenDetector(),
    NpmDetector(),
    OpenAIDetector(),
    PypiTokenDetector(),
    SendGridDetector(),
    SlackDetector(),
    SquareOAuthDetector(),
    StripeDetector(),
)
_KEYWORD = KeywordDetector()
_ENTROPY: tuple[HighEntropyStringsPlugin, ...] = (
    Base64HighEntropyString(limit=4.5),
    HexHighEntropyString(limit=3.0),
)
# Characters a token goes on with after a pattern stops matching (the JWT pattern is lazy).
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-.+/=~]*")
_TOKEN_HEAD = re.compile(r"[A-Za-z0-9_\-]*$")
# A quoted digest is an identifier, not a secret: image digests, commit and content hashes.
_DIGEST_BEFORE = re.compile(r"(?:sha(?:1|224|256|384|512)|md5|digest|commit|etag)\W{0,4}$", re.I)
# The plugins' keyword and vendor patterns backtrack on long unbroken text: they see it in
# pieces of at most this many characters, cut at whitespace where there is some.
_PIECE = 400


def spans(line: str) -> list[Span]:
    """Where known credential formats are in one line of text."""
    found: list[Span] = []
    for start, piece in _pieces(line):
        found.extend((start + a, start + b) for a, b in _spans_in(piece))
    return found


def _pieces(line: str) -> Iterator[tuple[int, str]]:
    if len(line) <= _PIECE:
        yield 0, line
        return
    start = 0
    while start < len(line):
        end = min(start + _PIECE, len(line))
        if end < len(line):
            cut = line.rfind(" ", start + 1, end)
            end = cut if cut > start else end
        yield start, line[start:end]
        start = end


def _spans_in(text: str) -> Iterator[Span]:
    for detector in _FORMATS:
        for pattern in detector.denylist:
            for match in pattern.finditer(text):
                yield _widen(text, *_secret_part(match))
    for value in _KEYWORD.analyze_string(text):
        yield from _occurrences(text, value)
    for plugin in _ENTROPY:
        for value in plugin.analyze_string(text):
            if plugin.calculate_shannon_entropy(value) > plugin.entropy_limit:
                yield from (s for s in _occurrences(text, value) if not _harmless(text, value, s))


def _secret_part(match: re.Match[str]) -> Span:
    """The match, or its last group when the pattern has context around the secret."""
    for index in range(len(match.groups()), 0, -1):
        if match.group(index) and match.start(index) > match.start():
            return match.span(index)
    return match.span()


def _widen(text: str, start: int, end: int) -> Span:
    head = _TOKEN_HEAD.search(text, 0, start)
    tail = _TOKEN_TAIL.match(text, end)
    return (head.start() if head else start), (tail.end() if tail else end)


def _occurrences(text: str, value: str) -> Iterator[Span]:
    # A short value would mask every place the same few letters occur; the key-name rule in
    # bot.redact has already masked short values by their key.
    if len(value.strip()) < 6:
        return
    start = text.find(value)
    while start >= 0:
        yield start, start + len(value)
        start = text.find(value, start + len(value))


def _harmless(text: str, value: str, span: Span) -> bool:
    """Identifiers that happen to look random: UUIDs, digests, runs like 'abcdef0123'."""
    return (
        is_potential_uuid(value)
        or bool(is_sequential_string(value))
        or bool(_DIGEST_BEFORE.search(text, 0, max(0, span[0] - 1)))
    )
