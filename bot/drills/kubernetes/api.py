"""The API server's request handling: routing, selectors, reads, patches and deletes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.drills import exchange
from bot.drills.kubernetes import controller
from bot.drills.kubernetes.autoscaling import commit_hpa, hpa_view, invalid_hpa
from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.defaults import defaulted_template
from bot.drills.kubernetes.discovery import discovery, is_discovery
from bot.drills.kubernetes.exec import run as run_command
from bot.drills.kubernetes.objects import Obj, list_of, status_error, timestamp
from bot.drills.kubernetes.observations import LogUnavailable, logs
from bot.drills.kubernetes.selectors import matches_fields, matches_labels
from bot.drills.kubernetes.tables import TABLE, printable, table, wants_table
from bot.drills.kubernetes.views import RESOURCES, deployment_view, listing, one
from bot.drills.kubernetes.workloads import scale
from bot.drills.merge import CONTENT_TYPES, PatchError, apply_patch

USER = "system:serviceaccount:default:runbook-bot"
_PATCHABLE = (
    ("apps", "deployments", None),
    ("apps", "deployments", "scale"),
    ("", "services", None),
    ("", "configmaps", None),
    ("autoscaling", "horizontalpodautoscalers", None),
)
VERSION = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.2",
    "gitCommit": "a51b3b711150f57ffc1f526a640ec058514ed596",
    "gitTreeState": "clean",
    "buildDate": "2024-08-14T19:04:09Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass
class Request(exchange.Request):
    content_type: str = ""
    accept: str = ""
    # host:port as the client addressed the server, which discovery names back.
    host: str = ""
    # Every query pair in order: exec repeats `command` once per argument.
    pairs: list[tuple[str, str]] = field(default_factory=list)


class Response(exchange.Response):
    """A Kubernetes API answer: a JSON object, or text such as logs."""


@dataclass
class Route:
    group: str
    resource: str
    namespace: str | None
    name: str | None
    sub: str | None


def parse_path(path: str) -> Route | None:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3 or (group, rest[0]) not in RESOURCES:
        return None
    name = rest[1] if len(rest) > 1 else None
    return Route(group, rest[0], ns, name, rest[2] if len(rest) > 2 else None)


def _fail(code: int, reason: str, message: str, route: Route | None = None) -> Response:
    details = {"name": route.name, "kind": route.resource} if route and route.name else None
    return Response(code, status_error(code, reason, message, details))


def _invalid_deployment(dep: Obj) -> str:
    """Why the API server would refuse this deployment, or "" if it would accept it."""
    spec = dep.get("spec") or {}
    if not isinstance(spec.get("replicas"), int) or spec["replicas"] < 0:
        return "spec.replicas: Invalid value: must be greater than or equal to 0"
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers:
        return "spec.template.spec.containers: Required value"
    for i, container in enumerate(containers):
        for key in ("name", "image"):
            if not isinstance(container, dict) or not container.get(key):
                return f"spec.template.spec.containers[{i}].{key}: Required value"
    return ""


class Api:
    """Answers API requests against one cluster; `forbidden` resources get 403."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.forbidden: set[str] = set()

    def handle(self, req: Request) -> Response:
        """The answer; for an exec, a 101 whose body is the finished command's ExecResult."""
        if req.method == "GET" and req.path.rstrip("/") == "/version":
            return Response(200, dict(VERSION))
        if req.method == "GET" and is_discovery(req.path):
            document, content_type = discovery(req.path, req.accept, req.host)
            return Response(200, document, content_type)
        route = parse_path(req.path)
        if route is None:
            return _fail(404, "NotFound", "the server could not find the requested resource")
        full = f"{route.resource}/{route.sub}" if route.sub else route.resource
        if route.resource in self.forbidden or full in self.forbidden:
            verb = {"GET": "get" if route.name else "list", "PATCH": "patch"}.get(
                req.method, "delete"
            )
            where = (
                f' in the namespace "{route.namespace}"'
                if route.namespace
                else " at the cluster scope"
            )
            message = (
                f'{full} "{route.name or ""}" is forbidden: User "{USER}" cannot {verb} resource '
                f'"{full}" in API group "{route.group}"{where}'
            )
            return _fail(403, "Forbidden", message, route)
        with self.cluster.locked():
            try:
                return self._dispatch(req, route)
            except PatchError as exc:
                return _fail(422, "Invalid", str(exc), route)
            except (ValueError, TypeError, KeyError) as exc:
                return _fail(400, "BadRequest", f"invalid request: {exc}", route)

    def _dispatch(self, req: Request, route: Route) -> Response:
        key = (req.method, route.group, route.resource, route.sub)
        if req.method == "GET" and route.sub is None:
            return self._read(req, route)
        if key == ("GET", "", "pods", "log"):
            return self._log(req, route)
        if key in (("GET", "", "pods", "exec"), ("POST", "", "pods", "exec")):
            return self._exec(req, route)
        if key == ("GET", "apps", "deployments", "scale"):
            obj = self._existing(route)
            return obj if isinstance(obj, Response) else Response(200, self._scale(obj))
        if req.method == "PATCH" and route.name and route.namespace and key[1:] in _PATCHABLE:
            return self._patch(req, route)
        if key == ("DELETE", "", "pods", None) and route.name:
            return self._delete(req, route)
        return _fail(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )

    def _read(self, req: Request, route: Route) -> Response:
        kind, version, _ = RESOURCES[(route.group, route.resource)]
        if route.name is not None:
            obj = self._existing(route)
            if isinstance(obj, Response):
                return obj
            items, answer = [obj], obj
        else:
            items = listing(self.cluster, route.group, route.resource, route.namespace)
            labels, fields = req.query.get("labelSelector", ""), req.query.get("fieldSelector", "")
            items = [o for o in items if matches_labels(o, labels) and matches_fields(o, fields)]
            answer = list_of(kind, version, items, self.cluster.version)
        if wants_table(req.accept) and printable(kind):
            include = req.query.get("includeObject", "Metadata")
            now = self.cluster.clock()
            rows = table(kind, items, str(self.cluster.version), now, include)
            return Response(200, rows, TABLE)
        return Response(200, answer)

    def _existing(self, route: Route) -> Obj | Response:
        assert route.name is not None
        found = one(self.cluster, route.group, route.resource, route.namespace, route.name)
        if found is None:
            return _fail(404, "NotFound", f'{route.resource} "{route.name}" not found', route)
        return found

    def _log(self, req: Request, route: Route) -> Response:
        pod = self.cluster.pods.get((route.namespace or "", route.name or ""))
        if pod is None:
            return _fail(404, "NotFound", f'pods "{route.name}" not found', route)
        try:
            previous = req.query.get("previous", "false").lower() == "true"
            lines = logs(self.cluster, pod, previous, req.query.get("container"))
        except LogUnavailable as exc:
            return _fail(400, "BadRequest", str(exc))
        since = req.query.get("sinceSeconds")
        if since is not None:
            horizon = timestamp(self.cluster.clock() - int(since))
            lines = [line for line in lines if line[: len(horizon)] >= horizon]
        tail = req.query.get("tailLines")
        if tail is not None:
            lines = lines[-int(tail) :] if int(tail) > 0 else []
        return Response(200, "".join(f"{line}\n" for line in lines), "text/plain")

    def _exec(self, req: Request, route: Route) -> Response:
        pod = self.cluster.pods.get((route.namespace or "", route.name or ""))
        if pod is None:
            return _fail(404, "NotFound", f'pods "{route.name}" not found', route)
        name = pod.container["name"]
        container = req.query.get("container") or name
        if container != name:
            return _fail(
                400, "BadRequest", f"container {container} is not valid for pod {pod.name}"
            )
        if self.cluster.pod_state(pod).phase not in ("ready", "unready"):
            message = f'unable to upgrade connection: container not found ("{name}")'
            return _fail(400, "BadRequest", message)
        argv = [value for key, value in req.pairs if key == "command"]
        return Response(101, run_command(self.cluster, pod, argv))

    def _scale(self, dep: Obj) -> Obj:
        return scale(dep, dep.get("status", {}).get("replicas", 0))

    def _patch(self, req: Request, route: Route) -> Response:
        if req.content_type.split(";")[0].strip() not in CONTENT_TYPES:
            return _fail(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {req.content_type}",
            )
        current = self._existing(route)
        if isinstance(current, Response):
            return current
        target = self._scale(current) if route.sub == "scale" else current
        patched = apply_patch(target, json.loads(req.body or b"null"), req.content_type)
        if patched.get("metadata", {}).get("name") != route.name:
            return _fail(
                422, "Invalid", "metadata.name: the name of the object may not change", route
            )
        dry = req.query.get("dryRun") == "All"
        if route.resource == "horizontalpodautoscalers":
            problem = invalid_hpa(patched)
            if problem:
                raise PatchError(
                    f'HorizontalPodAutoscaler.autoscaling "{route.name}" is invalid: {problem}'
                )
            ns = route.namespace or ""
            return Response(
                200,
                hpa_view(self.cluster, patched) if dry else commit_hpa(self.cluster, ns, patched),
            )
        if route.resource == "services":
            return Response(200, patched if dry else self._commit_service(route, patched))
        if route.resource == "configmaps":
            return Response(200, patched if dry else self._commit_configmap(route, patched))
        if route.sub == "scale":
            replicas = int(patched["spec"]["replicas"])
            if replicas < 0:
                raise ValueError("spec.replicas must be non-negative")
            patched = {**current, "spec": {**current["spec"], "replicas": replicas}}
        problem = _invalid_deployment(patched)
        if problem:
            raise PatchError(f'Deployment.apps "{route.name}" is invalid: {problem}')
        patched["spec"]["template"] = defaulted_template(patched["spec"]["template"])
        if dry:
            return Response(200, self._scale(patched) if route.sub == "scale" else patched)
        result = self._commit_deployment(route, patched)
        return Response(200, self._scale(result) if route.sub == "scale" else result)

    def _commit_service(self, route: Route, patched: Obj) -> Obj:
        stored = self.cluster.find("services", route.namespace or "", route.name or "")
        assert stored is not None
        stored["spec"] = patched["spec"]
        stored["metadata"]["labels"] = patched["metadata"].get("labels", {})
        return dict(self.cluster.put("services", stored))

    def _commit_configmap(self, route: Route, patched: Obj) -> Obj:
        """Store the new data; running pods keep the values they started with."""
        stored = self.cluster.find("configmaps", route.namespace or "", route.name or "")
        assert stored is not None
        stored["data"] = {str(k): str(v) for k, v in (patched.get("data") or {}).items()}
        return dict(self.cluster.put("configmaps", stored))

    def _commit_deployment(self, route: Route, patched: Obj) -> Obj:
        dep = self.cluster.find("deployments", route.namespace or "", route.name or "")
        assert dep is not None
        problem = _invalid_deployment(patched)
        if problem:
            raise PatchError(f'Deployment.apps "{route.name}" is invalid: {problem}')
        if patched["spec"] != dep["spec"]:
            dep["metadata"]["generation"] += 1
            dep["spec"] = patched["spec"]
        for key in ("labels", "annotations"):
            if key in patched["metadata"]:
                dep["metadata"][key] = patched["metadata"][key]
        controller.sync_deployment(self.cluster, dep, self.cluster.clock())
        return deployment_view(self.cluster, dep)

    def _delete(self, req: Request, route: Route) -> Response:
        pod = self.cluster.pods.get((route.namespace or "", route.name or ""))
        if pod is None:
            return _fail(404, "NotFound", f'pods "{route.name}" not found', route)
        obj = self.cluster.render(pod)
        obj["metadata"]["deletionTimestamp"] = timestamp(self.cluster.clock())
        obj["metadata"]["deletionGracePeriodSeconds"] = 30
        if req.query.get("dryRun") != "All":
            controller.delete_pod(self.cluster, pod, self.cluster.clock())
        return Response(200, obj)
