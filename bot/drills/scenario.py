"""What every drill scenario is: a model with a name and a playbook, layered from YAML files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from bot.drills.merge import merge_patch

_BASE = "_base"


class Model(BaseModel):
    """A part of a scenario; a misspelt key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class BaseScenario(Model):
    """A whole drill: its name, what it is, the playbook it drills and the cause to find."""

    name: str
    description: str
    playbook: str
    # The id of the playbook's root cause a responder should be pointed to first.
    root_cause: str


class Shelf:
    """The scenarios of one stand-in: `NAME.yml` files in a folder, over its `_base.yml`."""

    def __init__(self, folder: Path, kind: str = "") -> None:
        self.folder = folder
        # How an unknown name is reported: "unknown {kind}scenario ...".
        self.kind = kind

    def names(self) -> list[str]:
        """Every scenario's name, sorted; files starting with `_` are layers, not scenarios."""
        return [p.stem for p in sorted(self.folder.glob("*.yml")) if not p.stem.startswith("_")]

    def read(self, name: str) -> dict[str, Any]:
        """The scenario's own file, not merged with anything."""
        raw = yaml.safe_load((self.folder / f"{name}.yml").read_text(encoding="utf-8"))
        return raw if isinstance(raw, dict) else {}

    def layered(self, name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        """The scenario merged over what it `extends` (another scenario), else over the base."""
        raw = self.read(name)
        parent = str(raw.pop("extends", _BASE))
        if name == _BASE:
            return raw
        if parent in seen or not (self.folder / f"{parent}.yml").is_file():
            raise ValueError(f"scenario {name!r} extends unknown or circular {parent!r}")
        merged = merge_patch(self.layered(parent, (*seen, name)), raw)
        return merged if isinstance(merged, dict) else {}

    def load(self, name: str) -> dict[str, Any]:
        """The named scenario, layered; a name that is no scenario is refused with the known."""
        if name.startswith("_") or not (self.folder / f"{name}.yml").is_file():
            known = ", ".join(self.names())
            raise ValueError(f"unknown {self.kind}scenario {name!r} (known: {known})")
        return self.layered(name)
