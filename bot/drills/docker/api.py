"""The Docker Engine API: routes, query and body parsing, and the answers Docker gives."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.drills import exchange
from bot.drills.docker import views
from bot.drills.docker.execs import ExecInstance, create_exec, exec_view, start_exec
from bot.drills.docker.host import Container, Host, HostError
from bot.drills.docker.streams import MULTIPLEXED, RAW, select_logs
from bot.drills.exchange import Request

API_VERSION = "1.41"
ENGINE_VERSION = "20.10.24-sandbox"
_VERSIONED = re.compile(r"^/v\d+\.\d+(?=/)")


@dataclass
class Response(exchange.Response):
    # Exec output goes over the hijacked connection, after a 101 when the client asked for one.
    hijack: bool = False
    json_end: ClassVar[bytes] = b"\n"


def _error(code: int, message: str) -> Response:
    return Response(code, {"message": message})


def _json_body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    body = json.loads(req.body)
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _filters(query: dict[str, str]) -> dict[str, list[str]]:
    """The JSON `filters` query: {"label": ["k=v"]} or the older {"label": {"k=v": true}}."""
    raw = json.loads(query.get("filters") or "{}")
    if not isinstance(raw, dict):
        raise ValueError("filters must be a JSON object")
    return {k: list(v) if isinstance(v, (list, dict)) else [str(v)] for k, v in raw.items()}


def _matches(box: Container, filters: dict[str, list[str]]) -> bool:
    for label in filters.get("label", []):
        key, has_value, value = label.partition("=")
        if key not in box.labels or (has_value and box.labels[key] != value):
            return False
    names = filters.get("name", [])
    if names and not any(re.search(n, f"/{box.name}") for n in names):
        return False
    ids = filters.get("id", [])
    if ids and not any(box.id.startswith(i) for i in ids):
        return False
    statuses = filters.get("status", [])
    return not statuses or box.status in statuses


class Api:
    """Answers Engine API requests against one sandbox host."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.execs: dict[str, ExecInstance] = {}

    def handle(self, req: Request) -> Response:
        path = _VERSIONED.sub("", req.path)
        parts = [p for p in path.split("/") if p]
        with self.host.locked():
            try:
                return self._dispatch(req, parts)
            except HostError as exc:
                return _error(exc.code, str(exc))
            except (ValueError, TypeError, KeyError) as exc:
                return _error(400, f"invalid request: {exc}")

    def _dispatch(self, req: Request, parts: list[str]) -> Response:
        method = req.method
        if parts == ["_ping"]:
            return Response(200, "OK", "text/plain; charset=utf-8")
        if parts == ["version"] and method == "GET":
            return Response(200, self._version())
        if parts == ["containers", "json"] and method == "GET":
            return self._list(req)
        if parts == ["containers", "create"] and method == "POST":
            box = self.host.create(req.query.get("name", ""), _json_body(req))
            return Response(201, {"Id": box.id, "Warnings": []})
        if len(parts) >= 2 and parts[0] == "containers":
            return self._container(req, self.host.find(parts[1]), parts[2:])
        if len(parts) == 3 and parts[0] == "exec":
            instance = self.execs.get(parts[1])
            if instance is None:
                raise HostError(404, f"No such exec instance: {parts[1]}")
            if parts[2] == "json" and method == "GET":
                return Response(200, exec_view(instance))
            if parts[2] == "start" and method == "POST":
                if _json_body(req).get("Detach"):
                    start_exec(instance)
                    return Response(200)
                return Response(200, start_exec(instance), RAW, hijack=True)
        return _error(404, "page not found")

    def _version(self) -> dict[str, Any]:
        return {
            "Version": ENGINE_VERSION,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": "1.12",
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": "6.1.0-sandbox",
            "Components": [{"Name": "Engine", "Version": ENGINE_VERSION,
                            "Details": {"ApiVersion": API_VERSION}}],
        }  # fmt: skip

    def _list(self, req: Request) -> Response:
        wanted = _filters(req.query)
        everything = req.query.get("all", "0").lower() in ("1", "true")
        rows = [
            views.summary(self.host, box)
            for box in self.host.all()
            if (everything or box.running) and _matches(box, wanted)
        ]
        return Response(200, rows)

    def _container(self, req: Request, box: Container, rest: list[str]) -> Response:
        route = (req.method, *rest)
        if route == ("GET", "json"):
            return Response(200, views.inspect(self.host, box))
        if route == ("GET", "logs"):
            return Response(200, select_logs(box.logs, req.query), MULTIPLEXED)
        if route == ("GET", "stats"):
            if req.query.get("stream", "1").lower() not in ("0", "false"):
                raise HostError(400, "the sandbox serves only stats?stream=false")
            return Response(200, views.stats(self.host, box))
        if route == ("POST", "start"):
            return Response(204 if self.host.start(box) else 304)
        if route == ("POST", "stop"):
            return Response(204 if self.host.stop(box) else 304)
        if route == ("POST", "restart"):
            self.host.restart(box)
            return Response(204)
        if route == ("POST", "update"):
            self.host.update(box, _json_body(req))
            return Response(200, {"Warnings": None})
        if route == ("POST", "exec"):
            instance = create_exec(box, _json_body(req))
            self.execs[instance.id] = instance
            return Response(201, {"Id": instance.id})
        if route == ("DELETE",):
            self.host.remove(box, req.query.get("force", "0").lower() in ("1", "true"))
            return Response(204)
        return _error(404, "page not found")
