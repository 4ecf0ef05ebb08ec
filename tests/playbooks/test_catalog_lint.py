"""`runbook-bot lint --config`: each service in the catalog binds what its playbooks need."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.playbooks.bindings import required_fields
from bot.playbooks.loader import load_playbooks
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = str(REPO / "playbooks")

COMPLETE = """\
services:
  ecap-api:
    playbooks: [api-down]
    health_url: http://api.ecap.local/health
    load_balancer_url: http://lb.ecap.local/health
    last_known_good_image: ecap/api:2.4.0
    dependencies:
      postgres: {selector: app=postgres, pod: postgres-0, host: postgres.default.svc, port: 5432}
      redis: {selector: app=redis, url: "redis://redis.default.svc:6379/0"}
      kafka: {selector: app=kafka}
  unbound-api: {}
"""


def lint(tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "config.yml"
    path.write_text(config, encoding="utf-8")
    code = main(["lint", PLAYBOOKS, "--config", str(path)])
    out = capsys.readouterr().out
    return code, out.replace(str(path), "config.yml")


def test_a_complete_catalog_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint(tmp_path, COMPLETE, capsys)
    assert code == 0, out
    assert "config.yml: every service binds what its playbooks need" in out


def test_each_missing_binding_is_named_with_its_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = COMPLETE.replace("      kafka: {selector: app=kafka}\n", "").replace(
        "    load_balancer_url: http://lb.ecap.local/health\n", ""
    )
    code, out = lint(tmp_path, config, capsys)
    assert code == 1
    lines = out.splitlines()
    assert (
        "config.yml:2: services.ecap-api: playbook 'api-down' needs "
        "dependencies.kafka.selector (steps: kafka-pods)" in lines
    )
    assert (
        "config.yml:2: services.ecap-api: playbook 'api-down' needs load_balancer_url "
        "(steps: lb-health, lb-test)" in lines
    )
    assert len(lines) == 2, out


def test_unknown_playbooks_and_other_platforms_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = "services:\n  web:\n    platform: docker\n    playbooks: [api-down, no-such-book]\n"
    code, out = lint(tmp_path, config, capsys)
    assert code == 1
    assert (
        "config.yml:4: services.web.playbooks: 'api-down' is for kubernetes services; "
        "this one runs on docker" in out
    )
    assert "config.yml:4: services.web.playbooks: no playbook 'no-such-book' (known: " in out


def test_a_bad_config_field_gets_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = lint(tmp_path, "services:\n  web:\n    platfrom: docker\n", capsys)
    assert code == 1
    assert "config.yml:3: services.web.platfrom: Extra inputs are not permitted" in out


def test_an_unreadable_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["lint", PLAYBOOKS, "--config", str(tmp_path / "missing.yml")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.strip().endswith("missing.yml:0: cannot read config: No such file or directory")


def test_required_fields_follow_the_platform() -> None:
    playbooks = load_playbooks(REPO / "playbooks", TemplateRenderer(REPO / "templates"))
    needs = required_fields(playbooks["api-down"], "kubernetes")
    assert needs["service.health_url"] == ["health", "verify-health"]
    assert "service.dependencies.redis.url" in needs
