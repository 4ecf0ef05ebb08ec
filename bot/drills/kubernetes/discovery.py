"""API discovery: which groups, versions and resources the sandbox serves, as kubectl asks.

kubectl first asks `/api` and `/apis` for the aggregated discovery document (one answer listing
every resource) and falls back to the legacy documents (`/api/v1`, `/apis/<group>/<version>`);
both are served, each listing only what the sandbox answers and the verbs it answers them with.
"""

from __future__ import annotations

from bot.drills.kubernetes.objects import Obj
from bot.drills.kubernetes.views import RESOURCES

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
# The real server lists the groups by priority, not by name.
_GROUP_ORDER = ("", "apps", "autoscaling", "networking.k8s.io", "metrics.k8s.io")
_SHORT_NAMES = {
    "configmaps": ["cm"],
    "deployments": ["deploy"],
    "endpoints": ["ep"],
    "events": ["ev"],
    "horizontalpodautoscalers": ["hpa"],
    "ingresses": ["ing"],
    "namespaces": ["ns"],
    "networkpolicies": ["netpol"],
    "nodes": ["no"],
    "persistentvolumeclaims": ["pvc"],
    "persistentvolumes": ["pv"],
    "pods": ["po"],
    "replicasets": ["rs"],
    "services": ["svc"],
}
_IN_ALL = {"pods", "services", "deployments", "replicasets", "horizontalpodautoscalers"}
# Verbs beyond get and list, as api.py serves them.
_MORE_VERBS = {
    ("", "pods"): ["delete"],
    ("", "services"): ["patch"],
    ("apps", "deployments"): ["patch"],
    ("autoscaling", "horizontalpodautoscalers"): ["patch"],
}
# (group, resource) -> [(subresource, kind, verbs)]
_SUBRESOURCES = {
    ("", "pods"): [("exec", "PodExecOptions", ["create", "get"]), ("log", "Pod", ["get"])],
    ("apps", "deployments"): [("scale", "Scale", ["get", "patch"])],
}


def _version_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[-1]


def _served(group: str, version: str) -> list[tuple[str, str, bool]]:
    """(resource, kind, namespaced) of one group version, by resource name."""
    return sorted(
        (resource, kind, namespaced)
        for (g, resource), (kind, api_version, namespaced) in RESOURCES.items()
        if g == group and _version_of(api_version) == version
    )


def _group_versions() -> list[tuple[str, str]]:
    found = {(g, _version_of(v)) for (g, _), (_, v, _) in RESOURCES.items()}
    return sorted(found, key=lambda gv: _GROUP_ORDER.index(gv[0]))


def _verbs(group: str, resource: str) -> list[str]:
    return sorted(["get", "list", *_MORE_VERBS.get((group, resource), [])])


def is_discovery(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    return parts in (["api"], ["apis"], ["api", "v1"]) or (
        len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in _group_versions()
    )


def discovery(path: str, accept: str, address: str) -> tuple[Obj, str]:
    """The discovery document at `path` (see `is_discovery`) and its content type."""
    parts = [p for p in path.split("/") if p]
    core = parts[0] == "api"
    if len(parts) == 1 and AGGREGATED in accept:
        return aggregated(core), AGGREGATED
    if parts == ["api"]:
        cidr = {"clientCIDR": "0.0.0.0/0", "serverAddress": address}
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [cidr],
        }, "application/json"
    if parts == ["apis"]:
        return group_list(), "application/json"
    group, version = ("", "v1") if core else (parts[1], parts[2])
    return resource_list(group, version), "application/json"


def group_list() -> Obj:
    groups = []
    for group, version in _group_versions():
        if group:
            entry = {"groupVersion": f"{group}/{version}", "version": version}
            groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(group: str, version: str) -> Obj:
    resources: list[Obj] = []
    for resource, kind, namespaced in _served(group, version):
        entry: Obj = {
            "name": resource,
            "singularName": kind.lower(),
            "namespaced": namespaced,
            "kind": kind,
            "verbs": _verbs(group, resource),
        }
        if resource in _SHORT_NAMES:
            entry["shortNames"] = _SHORT_NAMES[resource]
        if resource in _IN_ALL:
            entry["categories"] = ["all"]
        resources.append(entry)
        for sub, sub_kind, verbs in _SUBRESOURCES.get((group, resource), []):
            resources.append(
                {
                    "name": f"{resource}/{sub}",
                    "singularName": "",
                    "namespaced": namespaced,
                    "kind": sub_kind,
                    "verbs": verbs,
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "groupVersion": group_version, "resources": resources}


def aggregated(core: bool) -> Obj:
    """The aggregated document: the core group (`/api`) or every named group (`/apis`)."""
    items = []
    for group, version in _group_versions():
        if (group == "") != core:
            continue
        resources: list[Obj] = []
        for resource, kind, namespaced in _served(group, version):
            entry: Obj = {
                "resource": resource,
                "responseKind": {"group": "", "version": "", "kind": kind},
                "scope": "Namespaced" if namespaced else "Cluster",
                "singularResource": kind.lower(),
                "verbs": _verbs(group, resource),
            }
            if resource in _SHORT_NAMES:
                entry["shortNames"] = _SHORT_NAMES[resource]
            if resource in _IN_ALL:
                entry["categories"] = ["all"]
            subs = _SUBRESOURCES.get((group, resource), [])
            if subs:
                entry["subresources"] = [
                    {
                        "subresource": sub,
                        "responseKind": _sub_kind(sub_kind),
                        "verbs": verbs,
                    }
                    for sub, sub_kind, verbs in subs
                ]
            resources.append(entry)
        metadata = {"name": group} if group else {}
        version_entry = {"version": version, "resources": resources, "freshness": "Current"}
        items.append({"metadata": metadata, "versions": [version_entry]})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _sub_kind(kind: str) -> Obj:
    # A deployment's scale is autoscaling/v1's Scale; every other kind is the resource's own group.
    if kind == "Scale":
        return {"group": "autoscaling", "version": "v1", "kind": kind}
    return {"group": "", "version": "", "kind": kind}
