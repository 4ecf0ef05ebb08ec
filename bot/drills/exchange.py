"""A request to a stand-in's API and its response, as both stand-ins' handlers pass them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Response:
    code: int
    body: Any = None
    content_type: str = "application/json"
    # What follows a JSON body on the wire: Docker's engine ends it with a newline.
    json_end: ClassVar[bytes] = b""

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode() + self.json_end
