"""`runbook-bot lint` and `drill` on broken copies of the real playbook: `file:line: reason`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "api-down.yml"
SCRIPT = Path(sys.executable).parent / "runbook-bot"


def runbook_bot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in its own process, with the repo's templates."""
    environment = {**os.environ, "RUNBOOK_BOT_TEMPLATES": str(REPO / "templates"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, f"{needle!r} is not unique in the playbook"
    return text[: text.index(needle)].count("\n") + 1


def broken(folder: Path, old: str, new: str, name: str = "api-down.yml") -> Path:
    """A copy of the real playbook with `old` replaced by `new` once."""
    original = PLAYBOOK.read_text(encoding="utf-8")
    assert original.count(old) == 1, f"{old!r} is not unique in the playbook"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(original.replace(old, new), encoding="utf-8")
    return path


def problems(output: str, path: Path) -> dict[int, str]:
    """Line -> reason for every `file:line: reason` of `path`; any other line fails the test."""
    found: dict[int, str] = {}
    for line in output.splitlines():
        match = re.fullmatch(r"(.+):(\d+): (.+)", line)
        assert match, f"not `file:line: reason`: {line!r}"
        if match[1] == str(path):
            found[int(match[2])] = match[3]
    return found


# (what is broken, text replaced, replacement, text marking the line to report, reason)
BROKEN = [
    (
        "a step without a title",
        "      - id: pods\n        kind: diagnostic\n        title: Check service pods\n",
        "      - id: pods\n        kind: diagnostic\n",
        "- id: pods\n",
        "stages[0].steps[0]: missing field 'title'",
    ),
    (
        "an unknown step kind",
        "      - id: pods\n        kind: diagnostic\n",
        "      - id: pods\n        kind: diagnosis\n",
        "kind: diagnosis",
        "unknown step kind 'diagnosis'",
    ),
    (
        "an unknown action type",
        "action: {type: k8s.pods}",
        "action: {type: k8s.podz}",
        "k8s.podz",
        "stages[0].steps[0].action: unknown action type 'k8s.podz'",
    ),
    (
        "an unknown action type in block style",
        "          type: k8s.logs\n          namespace:",
        "          type: k8s.tail\n          namespace:",
        "type: k8s.tail",
        "unknown action type 'k8s.tail'",
    ),
    (
        "a duration that is not one",
        "check: {type: k8s.rollout_status}\n        timeout: 5m\n",
        "check: {type: k8s.rollout_status}\n        timeout: 5 minutes\n",
        "timeout: 5 minutes",
        "timeout: not a duration: '5 minutes'",
    ),
    (
        "a template that does not exist",
        "template: api-down/update.md.j2",
        "template: api-down/nope.md.j2",
        "api-down/nope.md.j2",
        "communications.update.template: template 'api-down/nope.md.j2' does not exist",
    ),
    (
        "an unknown placeholder",
        'action: {type: http.get, url: "${service.health_url}"}',
        'action: {type: http.get, url: "${service.nope}"}',
        "${service.nope}",
        "unknown placeholder ${service.nope}",
    ),
    (
        "a duplicate step id",
        "      - id: top-pods\n        kind: diagnostic\n        title: Pod resource usage\n",
        "      - id: nodes\n        kind: diagnostic\n        title: Pod resource usage\n",
        "- id: nodes\n        kind: diagnostic\n        title: Pod resource usage",
        "step id 'nodes' is used twice",
    ),
    (
        "invalid YAML",
        "      - id: history\n",
        "      - id: history: yes\n",
        "id: history: yes",
        "invalid YAML",
    ),
    (
        "an id that does not match the file name",
        "\nid: api-down\n",
        "\nid: api-up\n",
        "id: api-up",
        "id 'api-up' must match the file name 'api-down'",
    ),
    (
        "a log tail of zero",
        "{type: k8s.logs, tail: 100}",
        "{type: k8s.logs, tail: 0}",
        "tail: 0",
        "action.tail: Input should be greater than or equal to 1",
    ),
    (
        "negative replicas",
        "{type: k8s.scale, replicas: 5}",
        "{type: k8s.scale, replicas: -1}",
        "replicas: -1",
        "action.replicas: Input should be greater than or equal to 0",
    ),
    (
        "a symptom on a step that reports no findings",
        "step: db-connectivity, finding: tcp.reachable",
        "step: customer-reports, finding: tcp.reachable",
        "step: customer-reports",
        "step 'customer-reports' is a manual step: it reports no findings",
    ),
    (
        "a misspelt symptom key",
        "finding: tcp.reachable, equals: false}",
        "finding: tcp.reachable, equals: false, rule_out: true}",
        "rule_out: true",
        "unknown field 'rule_out'",
    ),
    (
        "a cause that can only be ruled out",
        "          - {text: DNS resolution failures from the API pods, step: dns,"
        " finding: exec.failed, equals: true}\n"
        "          # The balancer answers 502/503 when its health checks find no healthy target.\n"
        "          - {text: Load balancer health checks failing, step: lb-health,"
        " finding: http.status, at_least: 500}\n"
        "          - {text: Load balancer unreachable, step: lb-health, finding: http.reachable,"
        " equals: false}\n",
        "          - {text: DNS resolves, finding: dns.resolved, equals: true, rules_out: true}\n",
        "{text: DNS resolves",
        "a cause that can only be ruled out is never suggested",
    ),
    (
        "an image reference with a space",
        'image: "${service.last_known_good_image}"',
        'image: "bad image"',
        "bad image",
        "action.image: not a valid image reference: 'bad image'",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "marker", "reason"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_lint_reports_the_file_line_and_reason(
    tmp_path: Path, old: str, new: str, marker: str, reason: str
) -> None:
    path = broken(tmp_path, old, new)
    expected = line_of(path.read_text(encoding="utf-8"), marker)

    result = runbook_bot("lint", str(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    found = problems(result.stdout, path)
    assert expected in found, f"expected line {expected}, got:\n{result.stdout}"
    assert reason in found[expected]


def test_a_valid_folder_passes(tmp_path: Path) -> None:
    (tmp_path / "api-down.yml").write_text(PLAYBOOK.read_text(encoding="utf-8"))

    result = runbook_bot("lint", str(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{tmp_path}: all playbooks valid"


def test_the_console_script_lints_the_configured_folder(tmp_path: Path) -> None:
    path = broken(tmp_path, "{type: k8s.scale, replicas: 5}", "{type: k8s.scale, replicas: -1}")
    environment = {
        **os.environ,
        "RUNBOOK_BOT_PLAYBOOKS": str(tmp_path),
        "RUNBOOK_BOT_TEMPLATES": str(REPO / "templates"),
    }

    result = subprocess.run(
        [str(SCRIPT), "lint"], capture_output=True, text=True, env=environment, timeout=120
    )

    assert result.returncode == 1, result.stdout + result.stderr
    expected = line_of(path.read_text(encoding="utf-8"), "replicas: -1")
    assert list(problems(result.stdout, path)) == [expected]


def test_every_broken_file_gets_its_own_error(tmp_path: Path) -> None:
    valid = tmp_path / "api-down.yml"
    valid.write_text(PLAYBOOK.read_text(encoding="utf-8"))
    tail = broken(tmp_path, "\nid: api-down\n", "\nid: api-tail\n", "api-tail.yml")
    tail.write_text(
        tail.read_text().replace("{type: k8s.logs, tail: 100}", "{type: k8s.logs, tail: 0}")
    )
    kind = broken(tmp_path, "\nid: api-down\n", "\nid: api-kind\n", "api-kind.yml")
    kind.write_text(kind.read_text().replace("kind: manual", "kind: checklist", 1))
    yaml_error = tmp_path / "api-yaml.yml"
    yaml_error.write_text("id: api-yaml\ntitle: a: b\n")

    result = runbook_bot("lint", str(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert problems(result.stdout, valid) == {}
    assert list(problems(result.stdout, tail)) == [line_of(tail.read_text(), "tail: 0")]
    assert list(problems(result.stdout, kind)) == [line_of(kind.read_text(), "kind: checklist")]
    assert list(problems(result.stdout, yaml_error)) == [2]


def test_lint_refuses_a_folder_without_playbooks(tmp_path: Path) -> None:
    result = runbook_bot("lint", str(tmp_path))

    assert result.returncode == 1
    assert result.stdout.strip() == f"{tmp_path}:0: no playbooks (*.yml) found"


def test_drill_refuses_to_start_on_a_broken_playbook(tmp_path: Path) -> None:
    path = broken(
        tmp_path / "playbooks", "{type: k8s.logs, tail: 100}", "{type: k8s.logs, tail: 0}"
    )
    expected = line_of(path.read_text(encoding="utf-8"), "tail: 0")

    result = runbook_bot(
        "drill",
        "api-down",
        env={
            "RUNBOOK_BOT_PLAYBOOKS": str(path.parent),
            "RUNBOOK_BOT_STATE": str(tmp_path / "state" / "incidents.db"),
        },
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}:{expected}: " in result.stderr
    assert "greater than or equal to 1" in result.stderr
    assert not (tmp_path / "state").exists()
