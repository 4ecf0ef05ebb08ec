"""The config's service catalog against the playbooks: does each service bind what its need."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.config import Config
from bot.playbooks.checks import placeholders_in, step_actions
from bot.playbooks.loader import Problem
from bot.playbooks.models import Playbook


def required_fields(playbook: Playbook, platform: str) -> dict[str, list[str]]:
    """Each `service.*` path the playbook's steps on `platform` fill, with the steps using it."""
    needs: dict[str, list[str]] = {}
    for _, step in playbook.for_platform(platform).steps():
        for _, action in step_actions(step):
            for path in placeholders_in(action.model_dump()):
                users = needs.setdefault(path, [])
                if step.id not in users:
                    users.append(step.id)
    return needs


def catalog_problems(config_path: Path, playbooks: dict[str, Playbook]) -> list[Problem]:
    """`file:line: reason` for each service whose bound playbooks it cannot run.

    Only services that list `playbooks:` are checked: without the list a service may be run
    with any playbook, and a missing name is reported when the step that needs it runs.
    """
    name = str(config_path)
    try:
        text = config_path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        config = Config.model_validate(yaml.safe_load(text) or {})
    except OSError as exc:
        return [Problem(name, 0, f"cannot read config: {exc.strerror}")]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        return [Problem(name, line, f"invalid YAML: {exc.problem}")]
    except ValidationError as exc:
        return [
            Problem(
                name,
                _line(root, tuple(err["loc"])),
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
            )
            for err in exc.errors()
        ]
    problems: list[Problem] = []
    for service, binding in config.services.items():
        line = _line(root, ("services", service))
        for index, playbook_id in enumerate(binding.playbooks):
            where = _line(root, ("services", service, "playbooks", index)) or line
            for reason in _service_problems(service, binding.platform, playbook_id, playbooks):
                problems.append(Problem(name, where, reason))
            playbook = playbooks.get(playbook_id)
            if playbook is None:
                continue
            for path, steps in required_fields(playbook, binding.platform).items():
                if binding.lookup(path) is None:
                    field = path.removeprefix("service.")
                    problems.append(
                        Problem(
                            name,
                            line,
                            f"services.{service}: playbook '{playbook_id}' needs {field} "
                            f"(steps: {', '.join(steps)})",
                        )
                    )
    return problems


def _service_problems(
    service: str, platform: str, playbook_id: str, playbooks: dict[str, Playbook]
) -> Iterator[str]:
    playbook = playbooks.get(playbook_id)
    if playbook is None:
        known = ", ".join(sorted(playbooks)) or "none"
        yield f"services.{service}.playbooks: no playbook '{playbook_id}' (known: {known})"
    elif playbook.platform not in ("any", platform):
        yield (
            f"services.{service}.playbooks: '{playbook_id}' is for {playbook.platform} "
            f"services; this one runs on {platform}"
        )


def _line(root: yaml.Node | None, path: tuple[str | int, ...]) -> int:
    """The line of the YAML key (or list item) at `path`; 0 when it is not there."""
    node, line = root, 0
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if k.value == part]
            if not found:
                return line
            line, node = found[0][0].start_mark.line + 1, found[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
