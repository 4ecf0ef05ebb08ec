"""docs/fidelity.md, the seeds mapped to the playbooks: its references, statuses and counts hold.

Each row names a seed line, the item on it, the `playbook#id` that carries it and a status. The
references must name a real step, root cause, post-incident group, escalation level,
communication, or the playbook's alert list / impact line; the summary must count the rows; and
every step whose command is taken from a seed must appear in the map.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.templates import TemplateRenderer

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "fidelity.md"
SEEDS = Path(__file__).parent / "seeds"
STATUSES = ("faithful", "different", "manual", "missing")
_SEED = re.compile(r"^## Seed (\d{3})\b")
_REF = r"`[a-z0-9-]+#[a-z0-9.-]+`"
_ROW = re.compile(rf"^\| (\d+) \| (.*?) \| ({_REF}(?:, {_REF})*) \| (\w+) \| (.*?) \|$")
_SUMMARY = re.compile(r"^\| (\d{3}) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| [\d/]+ \|$")


@dataclass(frozen=True)
class Row:
    seed: str
    line: int
    item: str
    # The entries that carry the item: (playbook, id); a command several steps run names each.
    refs: tuple[tuple[str, str], ...]
    status: str
    reason: str


def _unescape(cell: str) -> str:
    return cell.replace("\\|", "|")


def parse(text: str) -> tuple[list[Row], dict[str, tuple[int, ...]]]:
    """The map's rows, and the summary's counts per seed (items, then one per status)."""
    rows: list[Row] = []
    summary: dict[str, tuple[int, ...]] = {}
    seed = ""
    for line in text.splitlines():
        if found := _SEED.match(line):
            seed = found.group(1)
        elif seed and (row := _ROW.match(line)):
            number, item, cell, status, reason = row.groups()
            refs = tuple(
                (playbook, ref)
                for playbook, ref in (part.strip("`").split("#") for part in cell.split(", "))
            )
            rows.append(Row(seed, int(number), _unescape(item), refs, status, _unescape(reason)))
        elif not seed and (counts := _SUMMARY.match(line)):
            summary[counts.group(1)] = tuple(int(n) for n in counts.groups()[1:])
    return rows, summary


@pytest.fixture(scope="module")
def playbooks() -> dict[str, Playbook]:
    return load_playbooks(ROOT / "playbooks", TemplateRenderer(ROOT / "templates"))


@pytest.fixture(scope="module")
def parsed() -> tuple[list[Row], dict[str, tuple[int, ...]]]:
    return parse(DOC.read_text(encoding="utf-8"))


def _ids(playbook: Playbook) -> set[str]:
    """Everything a row may name in a playbook."""
    ids = {step.id for _, step in playbook.steps()}
    ids |= {cause.id for stage in playbook.stages for cause in stage.root_causes}
    ids |= {checklist.id for checklist in playbook.post_incident}
    ids |= {f"escalation-{level.level}" for level in playbook.escalation}
    ids |= {f"communications.{name}" for name in playbook.communications}
    if playbook.alerts:
        ids.add("alerts")
    if playbook.impact:
        ids.add("impact")
    return ids


def _seed_lines(seed: str) -> list[str]:
    (path,) = SEEDS.glob(f"{seed}_*.txt")
    return path.read_text(encoding="utf-8").splitlines()


def test_the_map_covers_every_seed(parsed: tuple[list[Row], dict[str, tuple[int, ...]]]) -> None:
    rows, summary = parsed
    seeds = sorted(path.name[:3] for path in SEEDS.glob("*.txt"))
    assert sorted({row.seed for row in rows}) == seeds
    assert sorted(summary) == seeds


def test_every_reference_names_a_real_entry(
    parsed: tuple[list[Row], dict[str, tuple[int, ...]]], playbooks: dict[str, Playbook]
) -> None:
    rows, _ = parsed
    wrong = [
        f"{row.seed}:{row.line} {playbook}#{ref}"
        for row in rows
        for playbook, ref in row.refs
        if playbook not in playbooks or ref not in _ids(playbooks[playbook])
    ]
    assert not wrong


def test_every_status_is_known_and_every_difference_says_why(
    parsed: tuple[list[Row], dict[str, tuple[int, ...]]],
) -> None:
    rows, _ = parsed
    assert {row.status for row in rows} <= set(STATUSES)
    unexplained = [
        f"{row.seed}:{row.line}" for row in rows if row.status != "faithful" and not row.reason
    ]
    assert not unexplained


def test_every_row_quotes_its_seed_line(
    parsed: tuple[list[Row], dict[str, tuple[int, ...]]],
) -> None:
    rows, _ = parsed
    wrong = []
    for row in rows:
        text = _seed_lines(row.seed)[row.line - 1].replace("`", "'")
        start = row.item.removesuffix("...")[:30].strip()
        if start not in text:
            wrong.append(f"{row.seed}:{row.line} {start!r} not in {text!r}")
    assert not wrong


def test_the_summary_counts_the_rows(parsed: tuple[list[Row], dict[str, tuple[int, ...]]]) -> None:
    rows, summary = parsed
    for seed, counts in summary.items():
        mine = [row for row in rows if row.seed == seed]
        tally = Counter(row.status for row in mine)
        assert counts == (len(mine), *(tally[status] for status in STATUSES)), seed


def _flat(text: str) -> str:
    return " ".join(text.replace("\\\n", " ").split())


def test_every_step_taken_from_a_seed_is_in_the_map(
    parsed: tuple[list[Row], dict[str, tuple[int, ...]]], playbooks: dict[str, Playbook]
) -> None:
    rows, _ = parsed
    mapped = {ref for row in rows for ref in row.refs}
    seeds = " ".join(_flat("\n".join(_seed_lines(path.name[:3]))) for path in SEEDS.glob("*.txt"))
    unmapped = [
        f"{playbook.id}#{step.id}"
        for playbook in playbooks.values()
        for _, step in playbook.steps()
        if step.command and _flat(step.command) in seeds and (playbook.id, step.id) not in mapped
    ]
    assert not unmapped
