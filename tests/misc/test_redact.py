"""The redactor masks credentials wherever they appear and leaves other text alone."""

from __future__ import annotations

import pytest

from bot.redact import MASK, redact, redact_value, register_secret


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("DB_PASSWORD=hunter2", "hunter2"),
        ('"apiKey": "k-123456"', "k-123456"),
        ("token: abc.def.ghi", "abc.def.ghi"),
        ("my_secret_key=foo42", "foo42"),
        ("postgres://app:pa55word@db:5432/app", "pa55word"),
        ("redis://:s3cret@redis:6379/0", "s3cret"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9"),
        ("slack said xoxb-1234-5678-abcdefgh", "xoxb-1234-5678-abcdefgh"),
    ],
)
def test_credentials_are_masked(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert MASK in masked


def test_registered_secrets_are_masked_anywhere() -> None:
    register_secret("sandbox-token-4f9a")
    assert redact("the token sandbox-token-4f9a leaked") == f"the token {MASK} leaked"


def test_plain_text_is_unchanged() -> None:
    text = "0/3 pods ready: 3 CrashLoopBackOff (last terminated: OOMKilled) at http://api/health"
    assert redact(text) == text


def test_values_under_sensitive_names_are_masked() -> None:
    assert redact_value("ECAP_DB_PASSWORD", "plain") == MASK
    assert redact_value("ECAP_DB_HOST", "postgres.default") == "postgres.default"


def test_long_unbroken_text_is_handled() -> None:
    # Base64 blobs and minified JSON in logs once made the patterns backtrack for seconds.
    blob = "QUJD" * 50_000 + " password=x " + "a:" * 20_000
    masked = redact(blob)
    assert "password=[redacted]" in masked
    assert masked.startswith("QUJDQUJD")
