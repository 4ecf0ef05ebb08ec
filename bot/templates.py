"""Status updates and the post-incident document, rendered from incident state with Jinja2."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from bot.errors import NotFound, PlaybookError


class TemplateRenderer:
    """A sandboxed environment: templates are data and may not reach into Python objects."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(str(self.directory)),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def problem(self, name: str) -> str | None:
        """Why `name` cannot be used (missing, or not valid Jinja), or None if it can."""
        try:
            self._env.get_template(name)
        except TemplateNotFound:
            return f"template '{name}' does not exist in {self.directory}"
        except TemplateError as exc:
            return f"template '{name}' is not valid Jinja: {exc.message}"
        return None

    def render(self, name: str, context: Mapping[str, object]) -> str:
        try:
            template = self._env.get_template(name)
        except TemplateNotFound:
            raise NotFound(f"template '{name}' does not exist in {self.directory}") from None
        try:
            return template.render(**context).strip() + "\n"
        except TemplateError as exc:
            raise PlaybookError(f"template '{name}' failed to render: {exc.message}") from None
        except Exception as exc:  # a template bug must not take the incident down
            raise PlaybookError(f"template '{name}' failed to render: {exc}") from None
