"""Nothing in the product imports the drill package; only the CLI's commands do, lazily."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
DRILLS = "bot.drills"


def _imported(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """(line, module, at module level) of every import in the tree."""
    top = {id(node) for node in getattr(tree, "body", [])}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(node.lineno, name, id(node) in top) for name in [node.module, *names]]
    return found


def _is_drills(module: str) -> bool:
    return module == DRILLS or module.startswith(f"{DRILLS}.")


def test_no_product_module_imports_the_drills() -> None:
    offenders = [
        f"{path.relative_to(BOT.parent)}:{line}: {module}"
        for path in sorted(BOT.rglob("*.py"))
        if path.relative_to(BOT).parts[0] != "drills" and path != BOT / "cli.py"
        for line, module, _ in _imported(ast.parse(path.read_text(encoding="utf-8")))
        if _is_drills(module)
    ]
    assert not offenders, "product modules import the drill package:\n" + "\n".join(offenders)


def test_the_cli_imports_the_drills_only_inside_its_commands() -> None:
    tree = ast.parse((BOT / "cli.py").read_text(encoding="utf-8"))
    at_top = [(line, m) for line, m, top in _imported(tree) if top and _is_drills(m)]
    assert not at_top, f"bot/cli.py imports the drills when it loads: {at_top}"
    inside = {m for _, m, top in _imported(tree) if not top and _is_drills(m)}
    assert inside, "the drill and sandbox commands import the drills lazily"


def test_the_scan_sees_an_import_of_the_drills() -> None:
    source = "import bot.drills.run\nfrom bot import drills\nfrom bot.drills import run\n"
    lines = {line for line, m, _ in _imported(ast.parse(source)) if _is_drills(m)}
    assert lines == {1, 2, 3}
