"""A corpus of secret shapes, each masked whole, and of harmless lines, each left as it is."""

from __future__ import annotations

import pytest

from bot.redact import redact

# (text, the secret that must not survive), in the places secrets turn up: log lines, env
# listings, config maps, JSON, YAML, URLs and stack traces.
SECRETS: list[tuple[str, str]] = [
    # log lines
    ("2026-12-06T12:00:01Z INFO login password=Tr0ub4dor&3 user=alice", "Tr0ub4dor&3"),
    ("WARN auth failed: Authorization: Token tok-9f8e7d6c5b4a", "tok-9f8e7d6c5b4a"),
    ("DEBUG headers Authorization: Bearer abc.def-ghi_jkl~mno", "abc.def-ghi_jkl~mno"),
    ("calling api with x-api-key: k_live_a1b2c3d4e5 retry=3", "k_live_a1b2c3d4e5"),
    ("INFO stripe charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc ok", "4eC39HqLyjWDarjtT1zdp7dc"),
    ("INFO cloning with ghp_R2d2C3poL0ngT0k3nV4lu3Abcdefghij1234", "R2d2C3poL0ngT0k3nV4lu3"),
    ("using gho_0123456789abcdefghijABCDEFGHIJklmnopqr for oauth", "0123456789abcdefghijABCD"),
    ("aws client AKIAIOSFODNN7EXAMPLE region=eu-west-1", "AKIAIOSFODNN7EXAMPLE"),
    (
        "session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U expired",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("slack token xoxb-1234567890-0987654321-sEcReTbOtToKeN rejected", "sEcReTbOtToKeN"),
    ("socket mode xapp-1-A0123456789-1234567890-sEcReTaPp failed", "sEcReTaPp"),
    ("gitlab glpat-Xy9zAbCdEfGhIjKlMnOp used", "glpat-Xy9zAbCdEfGhIjKlMnOp"),
    ("sendgrid SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG ok", "SG.abc"),
    ('2026-12-06 12:00:02 db connect password = "two words here" failed', "two words"),
    ("retrying with passwd:'s3cr3t, with comma' now", "s3cr3t, with comma"),
    # env listings
    ("STRIPE_KEY=sk_test_51HxYzAbCdEfGh", "sk_test_51HxYzAbCdEfGh"),
    ("ENCRYPTION_KEY=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ("SALT=pepper-and-more", "pepper-and-more"),
    ("HMAC_SECRET=hm4c-v4lu3", "hm4c-v4lu3"),
    ("SESSION_SECRET=a b c d", "a b c d"),
    ("GITHUB_TOKEN=notAFormat123", "notAFormat123"),
    ("SLACK_WEBHOOK=https://example.com/hook/abc123", "example.com/hook/abc123"),
    ("DB_PWD=pa;ss,wo=rd", "pa;ss,wo=rd"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("--db-password=cli-pass-99 --port 5432", "cli-pass-99"),
    # config maps and YAML
    ("hmac.key: Zm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4"),
    ("  webhook_url: https://hooks.example.org/T123/B456/xyz789", "xyz789"),
    ("  credentials: user:hunter2", "hunter2"),
    ("  jwtSigningKey: 'quoted key value'", "quoted key value"),
    ("  refresh_token: r-77d3f", "r-77d3f"),
    (
        "  azure: DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=SECRETAZURE==;",
        "SECRETAZURE==",
    ),
    # JSON
    ('{"password": "a,SECRET", "user": "bob"}', "a,SECRET"),
    ('{"apiKey":"k-123456","region":"eu"}', "k-123456"),
    ('{"client_secret": "quote \\" inside", "ok": true}', 'quote \\" inside'),
    ('{"auth": {"token": "nested-tok-42"}}', "nested-tok-42"),
    ('{"data": "sk_live_abcdefghijklmnopqrstuvwx"}', "abcdefghijklmnopqrstuvwx"),
    # URLs
    ("redis://:p@ssSECRET@redis:6379/0", "ssSECRET"),
    ("postgresql://u:pa/SECRET@db:5432/app", "pa/SECRET"),
    ("amqp://guest:gu3st-pw@rabbit:5672/", "gu3st-pw"),
    ("fetch https://deploy:hunter2@git.example.com/repo.git failed", "hunter2"),
    (
        "posting https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/SlAcKhOoKsEcReT0123456",
        "SlAcK",
    ),
    # stack traces
    (
        '  File "/app/db.py", line 12, in connect\n'
        "    conn = psycopg.connect(password='tr4ce-pw')",
        "tr4ce-pw",
    ),
    ("ValueError: invalid token: tok_ABCDEFG12345 for user 7", "tok_ABCDEFG12345"),
    (
        "redis.exceptions.AuthenticationError: redis://default:r3d1s-pw@cache:6379 refused",
        "r3d1s-pw",
    ),
    ("at com.acme.Db.open(Db.java:42) secret=java-secret-1", "java-secret-1"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n"
        "-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM",
    ),
    ('config = {"db_pass": "Wx9#kLm2$pQ7"}', "Wx9#kLm2$pQ7"),
    ("'secret_value': 'Q3VyaW91c0dlb3JnZTEyMzQ1Njc4OQ0KZm9vYmFy'", "Q3VyaW91c0dlb3JnZTEy"),
    ('data = "Q3VyaW91c0dlb3JnZTEyMzQ1Njc4OQ0KZm9vYmFyQmF6"', "Q3VyaW91c0dlb3JnZTEy"),
]

# Lines that hold no secret: redaction must leave each exactly as it is.
HARMLESS: list[str] = [
    "==> pod/ecap-api-7d9f8b6c5-x2x7k container api <==",
    "==> pod/api-gateway-5f6d7c8b9-qwz4p container gateway (previous) <==",
    "2026-12-06T12:00:01.123Z INFO GET /health 200 3ms",
    "2026-12-06 12:00:02,456 WARNING worker-3 retrying in 5s",
    "KeyError: 'SESSION_SECRET'",
    "    secret = os.environ['SESSION_SECRET']",
    '    password = os.getenv("DB_PASSWORD")',
    # The gateway drill's log tail once read "SESSION_SECRET\n\n=[redacted] pod/...".
    "ERROR configuration error: missing SESSION_SECRET\n\n==> pod/api-gateway-5f6d7c8b9-qwz4p "
    "container gateway <==",
    'Normal  Pulled  pod/ecap-api-7d9f8b6c5-x2x7k  Container image "ecap/api:2.5.0" present',
    "Warning  BackOff  12s (x4 over 1m)  kubelet  Back-off restarting failed container",
    "Successfully assigned default/ecap-api-7d9f8b6c5-x2x7k to node-1",
    "image: ecap/api:2.5.0",
    "image ecap/api@sha256:9b2a7c1e4f5d6a8b0c3e2f1a4d5b6c7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c pulled",
    '"imageID": "sha256:9b2a7c1e4f5d6a8b0c3e2f1a4d5b6c7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c"',
    '{"digest": "9b2a7c1e4f5d6a8b0c3e2f1a4d5b6c7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c"}',
    'request_id="3f2a9c1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b" status=200',
    "req 3f2a9c1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b done in 12ms",
    '{"resourceVersion": "4820913", "name": "ecap-api-7d9f8b6c5-x2x7k"}',
    'resourceVersion: "4820913"',
    "uid: 6f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
    "http://ecap-api.default.svc:8080/health answered 503",
    "https://grafana.example.com/d/abc123/api?orgId=1&from=now-1h",
    "postgres://db:5432/app (no password in this URL)",
    "0/3 pods ready: 3 CrashLoopBackOff (last terminated: OOMKilled)",
    "ecap-api-7d9f8b6c5   3   3   0   5m",
    "NAME   READY   STATUS    RESTARTS   AGE",
    "Error: connection refused (os error 111) at 10.0.0.12:5432",
    "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 (HEAD -> main)",
    "LOG_LEVEL=info",
    "cache key=user:42 hit",
    "monkey: banana",
    "• Missing/invalid secrets: the crash log reports something missing",
    "tokens_per_second 1234.5",
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secret_shapes_are_masked_whole(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked, masked
    assert "[redacted]" in masked


@pytest.mark.parametrize("line", HARMLESS)
def test_harmless_lines_are_unchanged(line: str) -> None:
    assert redact(line) == line


def test_the_corpus_is_large_enough() -> None:
    assert len(SECRETS) >= 40
    assert len(HARMLESS) >= 20


def test_the_whole_corpus_as_one_log() -> None:
    # As a log tail or a file upload holds them: many lines at once, harmless ones between.
    text = "\n".join(
        line for pair in zip(HARMLESS, SECRETS, strict=False) for line in (pair[0], pair[1][0])
    )
    masked = redact(text)
    for _, secret in SECRETS[: len(HARMLESS)]:
        assert secret not in masked
    for line in HARMLESS:
        assert line in masked
