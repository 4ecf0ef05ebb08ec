"""Fills a playbook action's `${service.*}` placeholders from the service binding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.config import ServiceBinding
from bot.errors import InvalidRequest
from bot.executors.params import PLACEHOLDER

ActionT = TypeVar("ActionT", bound=BaseModel)
Escape = Callable[[str], str]


def resolve_action(action: ActionT, binding: ServiceBinding, service: str) -> ActionT:
    """The action with every placeholder filled and validated again as a concrete value."""
    # A field whose values are code (PromQL) takes bound values escaped, never as they are.
    escapes: dict[str, Escape] = getattr(type(action), "bound_escapes", {})
    filled = {
        key: _fill(value, binding, service, escapes.get(key))
        for key, value in action.model_dump().items()
    }
    try:
        return type(action).model_validate(filled)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        raise InvalidRequest(f"service '{service}' binding gives a bad {field}: {reason}") from None


def _fill(value: Any, binding: ServiceBinding, service: str, escape: Escape | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, binding, service, escape) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, binding, service, escape) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    if escape is not None:
        return PLACEHOLDER.sub(lambda m: escape(str(_lookup(m.group(1), binding, service))), value)
    whole = PLACEHOLDER.fullmatch(value)
    if whole:
        # A lone placeholder keeps the bound value's type, so `port: ${...port}` stays an int.
        return _lookup(whole.group(1), binding, service)
    return PLACEHOLDER.sub(lambda m: str(_lookup(m.group(1), binding, service)), value)


def _lookup(path: str, binding: ServiceBinding, service: str) -> Any:
    value = binding.lookup(path)
    if value is None:
        raise InvalidRequest(
            f"service '{service}' has no {path.removeprefix('service.')} configured"
        )
    return value
