"""The RBAC the Kubernetes executor needs: every API call its reads and fixes make, as rules.

tests/deploy/test_rbac.py records the requests the executor really sends to the sandbox and
fails when this list grants less or more than they need.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    """Verbs on one resource of one API group; cluster-scoped ones go in the ClusterRole."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    namespaced: bool = True


NAMESPACED: tuple[Permission, ...] = (
    Permission("", "pods", ("get", "list", "delete")),
    Permission("", "pods/log", ("get",)),
    # k8s.exec streams over a websocket GET: API servers from 1.30 authorize it as `create`,
    # older ones as `get`.
    Permission("", "pods/exec", ("create", "get")),
    Permission("", "events", ("list",)),
    Permission("", "services", ("get", "patch")),
    # k8s.endpoints reads EndpointSlices, and v1 Endpoints only for a service without any.
    Permission("", "endpoints", ("get",)),
    Permission("discovery.k8s.io", "endpointslices", ("list",)),
    Permission("", "configmaps", ("get",)),
    Permission("", "persistentvolumeclaims", ("list",)),
    Permission("apps", "deployments", ("get", "patch")),
    Permission("apps", "deployments/scale", ("get", "patch")),
    Permission("apps", "replicasets", ("list",)),
    Permission("autoscaling", "horizontalpodautoscalers", ("get", "list", "patch")),
    Permission("networking.k8s.io", "ingresses", ("list",)),
    Permission("networking.k8s.io", "networkpolicies", ("list",)),
    Permission("metrics.k8s.io", "pods", ("list",)),
)

CLUSTER: tuple[Permission, ...] = (
    Permission("", "nodes", ("get", "list"), namespaced=False),
    # k8s.volumes shows the volumes bound to a namespace's claims; without this it says so.
    Permission("", "persistentvolumes", ("list",), namespaced=False),
    Permission("metrics.k8s.io", "nodes", ("list",), namespaced=False),
)

# k8s.secret_keys reads a whole Secret, and RBAC cannot grant its keys without its data, so no
# role grants secrets: that read answers "forbidden" in one line and the rest keep working.
NOT_GRANTED: tuple[Permission, ...] = (Permission("", "secrets", ("get",)),)
