"""Seed by seed: every command and checklist entry of a runbook has its step in a playbook.

Each `seed_coverage/NNN.yml` is the table: a seed line (a command's first line, or a checklist
entry) -> the id of the step that carries it. The commands are read from the seed itself, so a
command the table forgets fails here, and so does a table row naming a line the seed lacks or a
step the playbook lacks.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.templates import TemplateRenderer

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).parent / "seeds"
TABLES = Path(__file__).parent / "seed_coverage"
_FENCE = re.compile(r"^\s*```(\w*)\s*$")
_HEADING = re.compile(r"^(#+)\s+(.*?)\s*$")
_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+(?:\[ \]\s+)?(.+?)\s*$")
_COMMAND_FENCES = {"", "bash", "sh", "shell"}


@dataclass(frozen=True)
class Row:
    line: str
    playbook: str
    step: str


def commands(text: str) -> list[str]:
    """Every command in the seed's shell code blocks, continued lines joined with a space."""
    found: list[str] = []
    fence: str | None = None
    continued = False
    for raw in text.splitlines():
        match = _FENCE.match(raw)
        if match:
            fence = None if fence is not None else match.group(1)
            continued = False
            continue
        if fence not in _COMMAND_FENCES:
            continue
        line = raw.strip()
        if continued:
            found[-1] = f"{found[-1].removesuffix(chr(92)).rstrip()} {line}"
        elif not line or line.startswith("#"):
            continue
        else:
            found.append(line)
        continued = line.endswith(chr(92))
    found = [c.removesuffix(chr(92)).rstrip() for c in found]
    return found


def checklist(text: str, sections: list[str]) -> list[str]:
    """List items under the named headings (and their subheadings), outside code blocks."""
    found: list[str] = []
    level: int | None = None
    in_code = False
    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_code = not in_code
            continue
        if in_code:
            continue
        heading = _HEADING.match(raw)
        if heading:
            depth = len(heading.group(1))
            if level is not None and depth <= level:
                level = None
            if level is None and heading.group(2) in sections:
                level = depth
            continue
        item = _ITEM.match(raw)
        if level is not None and item:
            found.append(item.group(1))
    return found


def _tables() -> list[Path]:
    return sorted(TABLES.glob("*.yml"))


@pytest.fixture(scope="module")
def playbooks() -> dict[str, Playbook]:
    return load_playbooks(ROOT / "playbooks", TemplateRenderer(ROOT / "templates"))


def _load(table: Path) -> tuple[str, list[str], list[Row]]:
    data = yaml.safe_load(table.read_text(encoding="utf-8"))
    default = data.get("playbook")
    rows = [
        Row(str(r["line"]).strip(), str(r.get("playbook", default)), str(r["step"]))
        for r in data["rows"]
    ]
    return data["seed"], list(data.get("checklist_sections", [])), rows


def test_every_seed_has_a_table() -> None:
    seeds = {p.name for p in SEEDS.glob("*.txt")}
    tabled = {_load(t)[0] for t in _tables()}
    assert seeds, "no seeds vendored under tests/playbooks/seeds"
    assert seeds == tabled


@pytest.mark.parametrize("table", _tables(), ids=lambda p: p.stem)
def test_every_command_and_checklist_entry_has_a_step(
    table: Path, playbooks: dict[str, Playbook]
) -> None:
    seed, sections, rows = _load(table)
    text = (SEEDS / seed).read_text(encoding="utf-8")
    entries = commands(text) + checklist(text, sections)
    mapped = Counter(row.line for row in rows)

    # A command the runbook gives in three places is three steps (or three rows naming one).
    short = {e: n for e, n in Counter(entries).items() if mapped[e] < n}
    assert not short, f"{seed}: entries with fewer rows than occurrences (entry: times): {short}"

    known = set(entries) | {line.strip() for line in text.splitlines()}
    for row in rows:
        assert row.line in known, f"{seed}: no command, item or line {row.line!r} in the seed"
        assert row.playbook in playbooks, f"{seed}: no playbook {row.playbook!r}"
        playbook = playbooks[row.playbook]
        assert _has_item(playbook, row.step), (
            f"{seed}: {row.line!r} -> no step, checklist item or escalation '{row.step}' "
            f"in {row.playbook}"
        )


def _has_item(playbook: Playbook, ref: str) -> bool:
    """A step id, `checklist:ID` (a post-incident checklist), or `escalation:LEVEL`."""
    kind, _, name = ref.partition(":")
    if kind == "checklist":
        return any(c.id == name for c in playbook.post_incident)
    if kind == "escalation":
        return any(str(level.level) == name for level in playbook.escalation)
    if kind == "communication":
        return name in playbook.communications
    return playbook.find_step(ref) is not None


def test_command_extraction_joins_continued_lines() -> None:
    text = (
        "```bash\n# a comment\nkubectl exec -it x -- \\\n  psql -c 'SELECT 1;'\n\ncurl -I u\n```\n"
    )
    assert commands(text) == ["kubectl exec -it x -- psql -c 'SELECT 1;'", "curl -I u"]


def test_commands_outside_shell_blocks_are_not_commands() -> None:
    text = "```yaml\nrestart: unless-stopped\n```\n   ```bash\n   docker ps\n   ```\n"
    assert commands(text) == ["docker ps"]


def test_checklist_reads_only_the_named_sections() -> None:
    text = (
        "## Impact\n- not a step\n## Prevention\n### Short\n1. Add probes\n- [ ] Task\n"
        "## Other\n- x\n"
    )
    assert checklist(text, ["Prevention"]) == ["Add probes", "Task"]
