"""Loads playbooks from YAML and reports every problem as `file:line: reason`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.errors import PlaybookError
from bot.playbooks.checks import semantic_problems
from bot.playbooks.models import Playbook
from bot.templates import TemplateRenderer

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def playbook_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])


def lint_directory(directory: Path, templates: TemplateRenderer) -> list[Problem]:
    if not directory.is_dir():
        return [Problem(str(directory), 0, "not a directory of playbooks")]
    files = playbook_files(directory)
    if not files:
        return [Problem(str(directory), 0, "no playbooks (*.yml) found")]
    problems: list[Problem] = []
    for path in files:
        problems.extend(lint_file(path, templates)[1])
    return problems


def lint_file(path: Path, templates: TemplateRenderer) -> tuple[Playbook | None, list[Problem]]:
    """Parse and validate one file; the playbook is returned only when there are no problems."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 0, f"cannot read: {exc}")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        return None, [Problem(name, line, f"invalid YAML: {exc.problem}")]
    if root is None or not isinstance(data, dict):
        return None, [Problem(name, 1, "a playbook must be a YAML mapping")]
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        found = [_problem(name, root, err) for err in exc.errors()]
        return None, sorted(set(found), key=lambda p: p.line)
    problems = []
    for loc, reason in _checks(path, playbook, templates):
        line, matched, _ = _locate(root, loc)
        where = _dotted(matched)
        problems.append(Problem(name, line, f"{where}: {reason}" if where else reason))
    return (None if problems else playbook), sorted(problems, key=lambda p: p.line)


def _checks(
    path: Path, playbook: Playbook, templates: TemplateRenderer
) -> Iterator[tuple[Loc, str]]:
    if playbook.id != path.stem:
        yield ("id",), f"id '{playbook.id}' must match the file name '{path.stem}'"
    yield from semantic_problems(playbook, templates)


def load_playbooks(directory: Path, templates: TemplateRenderer) -> dict[str, Playbook]:
    """Every playbook in the folder, or PlaybookError naming the first problem."""
    problems = lint_directory(directory, templates)
    if problems:
        raise PlaybookError(str(problems[0]))
    playbooks: dict[str, Playbook] = {}
    for path in playbook_files(directory):
        playbook, _ = lint_file(path, templates)
        if playbook is not None:
            playbooks[playbook.id] = playbook
    return playbooks


def _problem(file: str, root: yaml.Node, err: ErrorDetails) -> Problem:
    line, path, rest = _locate(root, tuple(err["loc"]))
    where = _dotted(path)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        reason = f"missing field '{rest[-1] if rest else '?'}'"
    elif kind == "extra_forbidden":
        reason = f"unknown field '{path[-1] if path else '?'}'"
        where = _dotted(path[:-1])
    elif kind == "union_tag_invalid":
        what = "step kind" if ctx.get("discriminator") == "'kind'" else "action type"
        reason = f"unknown {what} {ctx.get('tag')!r} (expected one of: {ctx.get('expected_tags')})"
        # pydantic's loc stops at the step or action; point at its own `kind:` or `type:` line.
        tag = str(ctx.get("discriminator", "")).strip("'")
        line = _locate(root, (*err["loc"], tag))[0]
    elif kind == "union_tag_not_found":
        reason = f"missing field {ctx.get('discriminator', '?')}"
    else:
        reason = err["msg"].removeprefix("Value error, ")
    return Problem(file, line, f"{where}: {reason}" if where else reason)


def _locate(root: yaml.Node, loc: Loc) -> tuple[int, list[str | int], list[str | int]]:
    """The line of the deepest YAML node on `loc`, the path that matched, and what did not."""
    node, line = root, root.start_mark.line + 1
    matched: list[str | int] = []
    rest: list[str | int] = []
    for part in loc:
        child = _child(node, part)
        if child is None:
            # Discriminator tags appear in pydantic's loc but not in the YAML: skip them.
            rest.append(part)
            continue
        key_line, node = child
        line = key_line
        matched.append(part)
    return line, matched, rest


def _child(node: yaml.Node, part: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return key.start_mark.line + 1, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item = node.value[part]
        return item.start_mark.line + 1, item
    return None


def _dotted(path: list[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
