"""Every third-party package `bot/` imports is declared in pyproject.toml: none comes by luck."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them: `PyYAML` and `pyyaml` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """What installing the bot pulls in: its dependencies and the `postgres` extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    names = (re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r) for r in requirements)
    return {_normalized(found[0]) for found in names if found}


def imported(package: Path) -> Iterator[tuple[str, str]]:
    """(top-level module, where) for each absolute import in the package, lazy ones included."""
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                yield module.partition(".")[0], f"{path.relative_to(REPO)}:{node.lineno}"


def undeclared(
    imports: Sequence[tuple[str, str]],
    distributions: Mapping[str, Sequence[str]],
    allowed: set[str],
) -> list[str]:
    """One line for each third-party module whose distribution pyproject does not declare."""
    problems: dict[str, str] = {}
    for module, where in imports:
        if module in sys.stdlib_module_names or module == "bot" or module in problems:
            continue
        provided_by = distributions.get(module)
        if not provided_by:
            problems[module] = f"{where}: {module} comes from no installed distribution"
        elif not {_normalized(d) for d in provided_by} & allowed:
            wanted = " or ".join(sorted(set(provided_by)))
            problems[module] = f"{where}: {module} needs {wanted} in [project].dependencies"
    return sorted(problems.values())


def test_every_import_of_bot_is_a_declared_dependency() -> None:
    imports = list(imported(REPO / "bot"))
    assert len({module for module, _ in imports}) > 10, "the walk found bot's imports"
    problems = undeclared(imports, packages_distributions(), declared())
    assert not problems, "\n".join(problems)


def test_an_undeclared_import_is_named_with_where_it_is() -> None:
    """The check above can fail: a package missing from pyproject is reported, once."""
    imports = [("yaml", "bot/a.py:3"), ("yaml", "bot/b.py:9"), ("json", "bot/a.py:1")]
    imports += [("bot", "bot/a.py:2"), ("nowhere", "bot/c.py:4")]
    distributions = {"yaml": ["PyYAML"]}
    assert undeclared(imports, distributions, {"jinja2"}) == [
        "bot/a.py:3: yaml needs PyYAML in [project].dependencies",
        "bot/c.py:4: nowhere comes from no installed distribution",
    ]
    assert undeclared(imports[:3], distributions, declared()) == []
