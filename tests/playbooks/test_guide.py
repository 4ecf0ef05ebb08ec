"""docs/playbooks.md: generated from the models, with real and valid YAML excerpts."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import TypeAdapter

from bot.config import parse_config
from bot.executors.catalog import READ_NAMES, READ_TYPES, WRITE_NAMES, WRITE_TYPES, action_name
from bot.playbooks import guide
from bot.playbooks.bindings import catalog_problems
from bot.playbooks.loader import lint_file, load_playbooks
from bot.playbooks.models import (
    Checklist,
    EscalationLevel,
    Playbook,
    RootCause,
    Stage,
    Step,
    Symptom,
)
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "playbooks.md"
TEMPLATES = TemplateRenderer(REPO / "templates")
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _blocks(text: str) -> list[tuple[str, str]]:
    """Each YAML block as (source named on its first line, the rest)."""
    found = []
    for match in _YAML_BLOCK.finditer(text):
        first, _, rest = match.group(1).partition("\n")
        assert first.startswith("# "), f"a YAML block must name its source: {first!r}"
        found.append((first.removeprefix("# ").strip(), rest))
    return found


def _is_excerpt(snippet: str, source: str) -> bool:
    """True when the snippet's lines are consecutive lines of the source, at one indentation."""
    lines = textwrap.dedent(snippet).rstrip("\n").split("\n")
    have = source.split("\n")
    for start in range(len(have) - len(lines) + 1):
        first = have[start]
        indent = first[: len(first) - len(first.lstrip(" "))]
        if all(have[start + i] == (indent + line if line else "") for i, line in enumerate(lines)):
            return True
    return False


def _validate_fragment(data: Any) -> None:
    """Validate a playbook excerpt as the model it is a piece of."""
    if isinstance(data, list):
        for item in data:
            _validate_fragment_item(item)
        return
    assert isinstance(data, dict)
    for key, value in data.items():
        field = Playbook.model_fields[key]
        # Built at run time from the field, so not a type form mypy can check.
        form: Any = Annotated[field.annotation, field]
        TypeAdapter(form).validate_python(value)


def _validate_fragment_item(item: dict[str, Any]) -> None:
    if "kind" in item:
        TypeAdapter(Step).validate_python(item)
    elif "symptoms" in item:
        RootCause.model_validate(item)
    elif "level" in item:
        EscalationLevel.model_validate(item)
    elif "items" in item:
        Checklist.model_validate(item)
    elif "steps" in item or "root_causes" in item:
        Stage.model_validate(item)
    else:
        Symptom.model_validate(item)


def test_the_committed_guide_is_the_generators_output() -> None:
    text = _text()
    assert guide.MARKER in text
    assert guide.render(text) == text, "run: python -m bot.playbooks.guide"


def test_every_action_type_has_a_reference_entry_with_its_fields() -> None:
    reference = _text().partition(guide.MARKER)[2]
    for cls in READ_TYPES + WRITE_TYPES:
        heading = f"#### `{action_name(cls)}`\n"
        assert heading in reference, f"{action_name(cls)} is missing from the reference"
        section = reference.partition(heading)[2].partition("\n#### ")[0]
        for field in cls.model_fields:
            if field != "type":
                assert f"| `{field}` |" in section, f"{action_name(cls)}.{field} is not listed"
        assert f"| `{action_name(cls)}` |" in reference, "missing from the action index"


def test_every_playbook_model_field_is_in_the_reference() -> None:
    reference = _text().partition(guide.MARKER)[2]
    for model in (*guide.MODELS, *guide.BINDING_MODELS):
        section = reference.partition(f"### {guide._title(model)}\n")[2].partition("\n### ")[0]
        assert section, f"{model.__name__} has no section"
        for field in model.model_fields:
            assert f"| `{field}` |" in section, f"{model.__name__}.{field} is not listed"


def test_the_reference_shows_checked_types_and_playbook_spelled_defaults() -> None:
    reference = guide.reference()
    assert "| `namespace` | Kubernetes name | unset | no |" in reference
    assert "| `status_update_interval` | duration | `15m` | no |" in reference
    assert "| `verify_timeout` | duration | `1m` | no |" in reference
    assert '`["service", "job", "app", "namespace"]`' in reference
    # A fix's `action` is a fix action; a diagnostic's is a read.
    fix = reference.partition("### FixStep")[2].partition("\n### ")[0]
    assert "| `action` | [fix action](#fix-actions) |" in fix
    assert "| `verify` | [read action](#read-actions) |" in fix


def test_every_yaml_block_is_a_real_excerpt_that_still_validates() -> None:
    blocks = _blocks(_text())
    assert blocks
    for source, snippet in blocks:
        data = yaml.safe_load(snippet)
        if source == "config.yml":
            parse_config(data, "docs/playbooks.md")
            continue
        path = REPO / source
        assert path.parent == REPO / "playbooks", f"unknown source {source}"
        assert _is_excerpt(snippet, path.read_text(encoding="utf-8")), (
            f"not an excerpt of {source}:\n{snippet}"
        )
        playbook, problems = lint_file(path, TEMPLATES)
        assert playbook is not None, problems
        _validate_fragment(data)


def test_the_worked_example_quotes_api_down_only_and_walks_its_stages() -> None:
    example = _text().partition("## Worked example: api-down")[2].partition(guide.MARKER)[0]
    blocks = _blocks(example)
    assert len(blocks) >= 8
    assert {source for source, _ in blocks} == {"playbooks/api-down.yml"}
    quoted = "\n".join(snippet for _, snippet in blocks)
    for kind in ("diagnostic", "fix", "manual", "communication", "verification"):
        assert f"kind: {kind}" in quoted
    for part in ("escalation:", "communications:", "post_incident:", "symptoms:"):
        assert part in quoted


def test_the_config_example_binds_everything_api_down_needs(tmp_path: Path) -> None:
    playbooks = load_playbooks(REPO / "playbooks", TEMPLATES)
    services = [s for src, s in _blocks(_text()) if src == "config.yml" and "services:" in s]
    assert services
    for snippet in services:
        path = tmp_path / "config.yml"
        path.write_text(snippet, encoding="utf-8")
        assert catalog_problems(path, playbooks) == []


def test_a_rejected_excerpt_is_caught() -> None:
    source = (REPO / "playbooks" / "api-down.yml").read_text(encoding="utf-8")
    assert _is_excerpt("- id: pods\n  kind: diagnostic\n", source)
    assert not _is_excerpt("- id: pods\n  kind: fix\n", source)
    with pytest.raises(ValueError):
        _validate_fragment([{"id": "x", "kind": "diagnostic", "title": "t"}])


def _documented_finding_names() -> set[str]:
    """Finding names written as literals in the executors' code."""
    names: set[str] = set()
    for path in (REPO / "bot" / "executors").rglob("*.py"):
        code = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'name=\s*"([a-z_]+\.[a-z_.]+)"', code))
        # Facts gathered as ("name", value) pairs or {"name": value} maps before becoming findings;
        # action names in dispatch tables look alike and are left out.
        pairs = re.findall(r'\(\s*"([a-z_]+\.[a-z_]+)",|"([a-z_]+\.[a-z_]+)":', code)
        names |= {a or b for a, b in pairs} - READ_NAMES - WRITE_NAMES
        names |= set(re.findall(r'facts\["([a-z_]+\.[a-z_]+)"\]', code))
    return names


def test_every_finding_an_executor_produces_is_documented() -> None:
    names = _documented_finding_names()
    assert {"pod.phase", "docker.oom_killed", "hpa.at_max", "redis.role"} <= names
    prose = _text().partition(guide.MARKER)[0]
    missing = sorted(n for n in names if f"`{n}`" not in prose)
    assert not missing, f"findings not in docs/playbooks.md: {missing}"


def test_check_mode_fails_on_drift_and_regenerating_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "playbooks.md"
    stale.write_text(f"# Guide\n\n{guide.MARKER}\n\n## Reference\n\nold\n", encoding="utf-8")
    assert guide.main(["--check", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert stale.read_text(encoding="utf-8").endswith("old\n")
    assert guide.main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == f"# Guide\n\n{guide.MARKER}\n\n{guide.reference()}"
    assert guide.main(["--check", str(stale)]) == 0


def test_a_file_without_the_marker_or_missing_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.md"
    plain.write_text("# no marker here\n", encoding="utf-8")
    assert guide.main([str(plain)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no generated-reference marker" in err
    assert plain.read_text(encoding="utf-8") == "# no marker here\n"
    assert guide.main([str(tmp_path / "absent.md")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such file" in err
