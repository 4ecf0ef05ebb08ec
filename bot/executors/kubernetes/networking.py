"""Reads about traffic: a Service's endpoints, ingresses, network policies."""

from __future__ import annotations

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import dig
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.describe import age, table
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.params import K8sEndpoints, K8sIngresses, K8sNetworkPolicies
from bot.redact import redact


def _addresses(subsets: list[Obj], key: str) -> list[str]:
    found = []
    for subset in subsets:
        ports = [str(p.get("port", "")) for p in subset.get("ports") or []] or [""]
        for address in subset.get(key) or []:
            found += [f"{address.get('ip', '')}:{port}".rstrip(":") for port in ports]
    return found


def _slice_addresses(slices: list[Obj]) -> tuple[list[str], list[str]]:
    """(ready, not ready) ip:port of EndpointSlices; an unset `ready` condition means ready."""
    ready: list[str] = []
    not_ready: list[str] = []
    for piece in slices:
        ports = [str(p.get("port", "")) for p in piece.get("ports") or []] or [""]
        for endpoint in piece.get("endpoints") or []:
            found = ready if dig(endpoint, "conditions", "ready") is not False else not_ready
            for ip in endpoint.get("addresses") or []:
                found += [f"{ip}:{port}".rstrip(":") for port in ports]
    return ready, not_ready


async def _service_addresses(
    kube: KubeClient, namespace: str, name: str
) -> tuple[list[str], list[str]]:
    """From the service's EndpointSlices; v1 Endpoints (deprecated since 1.33) only without any."""
    try:
        slices = await kube.items(
            "discovery",
            "list_namespaced_endpoint_slice",
            namespace,
            label_selector=f"kubernetes.io/service-name={name}",
            what=f"endpointslices of service {name} in namespace {namespace}",
        )
    except KubeError as exc:
        if exc.status != 404:
            raise
        slices = []
    if slices:
        return _slice_addresses(slices)
    # A service without a selector, or a server without discovery.k8s.io (the drill server).
    endpoints = await kube.obj(
        "core",
        "read_namespaced_endpoints",
        name,
        namespace,
        what=f"endpoints {name} in namespace {namespace}",
    )
    subsets = endpoints.get("subsets") or []
    return _addresses(subsets, "addresses"), _addresses(subsets, "notReadyAddresses")


async def read_endpoints(
    kube: KubeClient, action: K8sEndpoints, target: ServiceBinding
) -> CheckResult:
    namespace = action.namespace or target.namespace
    name = action.service or target.service
    ready, not_ready = await _service_addresses(kube, namespace, name)
    subject = f"service/{name}"
    findings = [
        Finding(name="endpoints.ready", value=len(ready), subject=subject),
        Finding(name="endpoints.not_ready", value=len(not_ready), subject=subject),
    ]
    output = table(
        ["NAME", "READY", "NOT READY"],
        [[name, ",".join(ready) or "<none>", ",".join(not_ready) or "<none>"]],
    )
    summary = f"service {name}: {len(ready)} ready endpoint(s), {len(not_ready)} not ready"
    status = "ok" if ready else "problem"
    return CheckResult(status=status, summary=summary, output=output, findings=findings)


def _backend(path: Obj) -> str:
    service = dig(path, "backend", "service") or {}
    port = service.get("port") or {}
    return f"{service.get('name', '<none>')}:{port.get('number') or port.get('name') or ''}"


async def read_ingresses(
    kube: KubeClient, action: K8sIngresses, target: ServiceBinding
) -> CheckResult:
    namespace = action.namespace or target.namespace
    ingresses = await kube.items(
        "networking",
        "list_namespaced_ingress",
        namespace,
        what=f"ingresses in namespace {namespace}",
    )
    rows = []
    for ing in ingresses:
        lb = dig(ing, "status", "loadBalancer", "ingress") or []
        address = ",".join(str(x.get("ip") or x.get("hostname") or "") for x in lb) or "<pending>"
        for rule in dig(ing, "spec", "rules") or [{}]:
            for path in dig(rule, "http", "paths") or [{}]:
                rows.append(
                    [
                        dig(ing, "metadata", "name") or "",
                        dig(ing, "spec", "ingressClassName") or "<none>",
                        rule.get("host") or "*",
                        path.get("path") or "/",
                        _backend(path) if path else "<default>",
                        address,
                    ]
                )
    findings = [
        Finding(name="ingress.count", value=len(ingresses), subject=f"namespace/{namespace}")
    ]
    if not ingresses:
        return CheckResult(
            status="ok", summary=f"no ingresses in namespace {namespace}", findings=findings
        )
    output = table(["NAME", "CLASS", "HOST", "PATH", "BACKEND", "ADDRESS"], rows)
    return CheckResult(
        status="ok",
        summary=f"{len(ingresses)} ingress(es) in namespace {namespace}",
        output=redact(output),
        findings=findings,
    )


def _selector_text(selector: Obj | None) -> str:
    labels = (selector or {}).get("matchLabels") or {}
    expressions = [
        f"{e.get('key')} {e.get('operator')} ({','.join(e.get('values') or [])})"
        for e in (selector or {}).get("matchExpressions") or []
    ]
    return (
        ",".join([*(f"{k}={v}" for k, v in sorted(labels.items())), *expressions]) or "<all pods>"
    )


async def read_network_policies(
    kube: KubeClient, action: K8sNetworkPolicies, target: ServiceBinding
) -> CheckResult:
    namespace = action.namespace or target.namespace
    policies = await kube.items(
        "networking",
        "list_namespaced_network_policy",
        namespace,
        what=f"networkpolicies in namespace {namespace}",
    )
    rows = [
        [
            dig(p, "metadata", "name") or "",
            _selector_text(dig(p, "spec", "podSelector")),
            ",".join(dig(p, "spec", "policyTypes") or []) or "Ingress",
            age(dig(p, "metadata", "creationTimestamp")),
        ]
        for p in policies
    ]
    findings = [
        Finding(name="network_policy.count", value=len(policies), subject=f"namespace/{namespace}")
    ]
    if not policies:
        return CheckResult(
            status="ok", summary=f"no network policies in namespace {namespace}", findings=findings
        )
    return CheckResult(
        status="ok",
        summary=f"{len(policies)} network policy(ies) in namespace {namespace}",
        output=redact(table(["NAME", "POD-SELECTOR", "POLICY-TYPES", "AGE"], rows)),
        findings=findings,
    )
