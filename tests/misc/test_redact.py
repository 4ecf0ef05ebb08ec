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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Token tok-SECRET", "Authorization: [redacted]"),
        ('password = "two words"', 'password = "[redacted]"'),
        ('{"password": "a,SECRET"}', '{"password": "[redacted]"}'),
        ("redis://:p@ssSECRET@h", "redis://:[redacted]@h"),
        ("postgresql://u:pa/SECRET@h", "postgresql://u:[redacted]@h"),
        ("AccountKey=SECRETAZURE==;", "AccountKey=[redacted]"),
        ("STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "STRIPE_KEY=[redacted]"),
        ("using ghp_abcdefghijklmnopqrstuvwxyz0123456789 now", "using [redacted] now"),
        ("key id AKIAIOSFODNN7EXAMPLE in use", "key id [redacted] in use"),
        (
            "got eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
            "got [redacted] end",
        ),
        (
            "posting to https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/SlAcKhOoKsEcReT0123456",
            "posting to [redacted]",
        ),
    ],
)
def test_whole_secrets_are_masked(text: str, expected: str) -> None:
    # Each of these once kept its tail: "[redacted] tok-SECRET", "[redacted],SECRET", ...
    assert redact(text) == expected


def test_a_log_header_after_a_secret_name_is_not_garbled() -> None:
    text = "KeyError: 'SESSION_SECRET'\n\n==> pod/api-gateway-7d9f8b6c5-x2x7k container gateway <=="
    assert redact(text) == text


@pytest.mark.parametrize(
    "name",
    [
        "API_KEY",
        "STRIPE_KEY",
        "ENCRYPTION_KEY",
        "SALT",
        "hmac.key",
        "HMAC_SHA256",
        "webhook_url",
        "SLACK_WEBHOOK",
        "credentials",
        "AccountKey",
        "refreshToken",
        "DB_PASSWD",
        "PWD",
        "JWT_SECRET",
        "requirepass",
        "masterauth",
    ],
)
def test_sensitive_names(name: str) -> None:
    assert redact_value(name, "plain-value") == MASK


@pytest.mark.parametrize(
    "name", ["author", "passed", "LOG_LEVEL", "KeyError", "monkey", "DATABASE_HOST", "key", "PORT"]
)
def test_ordinary_names(name: str) -> None:
    assert redact_value(name, "plain-value") == "plain-value"
