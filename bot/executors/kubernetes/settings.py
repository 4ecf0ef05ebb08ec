"""Reads about configuration: config maps, secret keys (never values), container environment."""

from __future__ import annotations

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.common import dig
from bot.executors.kubernetes.client import KubeClient, Obj
from bot.executors.kubernetes.describe import table
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.params import K8sConfigMap, K8sEnv, K8sSecretKeys
from bot.executors.kubernetes.rollouts import read_deployment
from bot.redact import redact, redact_value

MAX_VALUE = 2000


def _shown_value(key: str, value: str) -> str:
    value = redact_value(key, value)
    if len(value) > MAX_VALUE:
        value = value[:MAX_VALUE] + f"... ({len(value)} characters)"
    if "\n" in value:
        return "|\n" + "\n".join("    " + line for line in value.rstrip("\n").splitlines())
    return value


async def read_configmap(
    kube: KubeClient, action: K8sConfigMap, target: ServiceBinding
) -> CheckResult:
    namespace = action.namespace or target.namespace
    name = action.name or target.configmap
    try:
        cm = await kube.obj(
            "core",
            "read_namespaced_config_map",
            name,
            namespace,
            what=f"configmap {name} in namespace {namespace}",
        )
    except KubeError as exc:
        if exc.status != 404:
            raise
        return CheckResult(
            status="problem",
            summary=f"config map {name} does not exist in namespace {namespace}",
            findings=[Finding(name="configmap.missing", value=True, subject=f"configmap/{name}")],
        )
    data = cm.get("data") or {}
    binary = cm.get("binaryData") or {}
    lines = [f"{key}: {_shown_value(key, str(value))}" for key, value in sorted(data.items())]
    lines += [f"{key}: <binary data>" for key in sorted(binary)]
    count = len(data) + len(binary)
    findings = [
        Finding(name="configmap.keys", value=count, subject=f"configmap/{name}"),
        Finding(name="configmap.missing", value=False, subject=f"configmap/{name}"),
    ]
    return CheckResult(
        status="ok",
        summary=f"config map {name}: {count} key(s)",
        output=redact("\n".join(lines)),
        findings=findings,
    )


async def read_secret_keys(
    kube: KubeClient, action: K8sSecretKeys, target: ServiceBinding
) -> CheckResult:
    """Reads the secret but keeps only its type and key names; values are dropped unseen."""
    namespace = action.namespace or target.namespace
    name = action.name or target.secret
    try:
        secret = await kube.obj(
            "core",
            "read_namespaced_secret",
            name,
            namespace,
            what=f"secret {name} in namespace {namespace}",
        )
    except KubeError as exc:
        if exc.status != 404:
            raise
        return CheckResult(
            status="problem",
            summary=f"secret {name} does not exist in namespace {namespace}",
            findings=[Finding(name="secret.missing", value=True, subject=f"secret/{name}")],
        )
    keys = sorted({*(secret.get("data") or {}), *(secret.get("stringData") or {})})
    kind = str(secret.get("type") or "Opaque")
    del secret
    output = "\n".join([f"Type:  {kind}", "Keys:", *(f"  {key}" for key in keys)])
    findings = [
        Finding(name="secret.keys", value=len(keys), subject=f"secret/{name}"),
        Finding(name="secret.missing", value=False, subject=f"secret/{name}"),
    ]
    return CheckResult(
        status="ok",
        summary=f"secret {name} ({kind}): {len(keys)} key(s)",
        output=redact(output),
        findings=findings,
    )


def _env_value(var: Obj) -> str:
    source = var.get("valueFrom") or {}
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return f"<from secret {ref.get('name', '')} key {ref.get('key', '')}>"
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return f"<from configmap {ref.get('name', '')} key {ref.get('key', '')}>"
    if "fieldRef" in source:
        return f"<from field {dig(source, 'fieldRef', 'fieldPath') or ''}>"
    if "resourceFieldRef" in source:
        return f"<from resource {dig(source, 'resourceFieldRef', 'resource') or ''}>"
    return redact_value(str(var.get("name", "")), str(var.get("value", "")))


def _env_from_line(ref: Obj) -> str:
    prefix = f" with prefix {ref['prefix']}" if ref.get("prefix") else ""
    for key, kind in (("secretRef", "secret"), ("configMapRef", "configmap")):
        if key in ref:
            return f"<all keys of {kind} {dig(ref, key, 'name') or ''}{prefix}>"
    return "<unknown envFrom source>"


async def read_env(kube: KubeClient, action: K8sEnv, target: ServiceBinding) -> CheckResult:
    namespace = action.namespace or target.namespace
    name = action.deployment or target.deployment
    deployment = await read_deployment(kube, namespace, name)
    containers = dig(deployment, "spec", "template", "spec", "containers") or []
    wanted = action.container or target.container
    container = next((c for c in containers if c.get("name") == wanted), None)
    if container is None and not action.container and containers:
        container = containers[0]
    if container is None:
        names = ", ".join(str(c.get("name", "")) for c in containers) or "none"
        raise KubeError(f"no container {wanted} in deployment/{name} (containers: {names})")
    env = [
        v
        for v in container.get("env") or []
        if str(v.get("name", "")).startswith(action.prefix or "")
    ]
    # Columns rather than NAME=value: the redactor would mask "API_KEY=<from secret ...>" refs.
    rows = [[str(v.get("name", "")), _env_value(v)] for v in env]
    rows += [["(envFrom)", _env_from_line(r)] for r in container.get("envFrom") or []]
    subject = f"deployment/{name}"
    findings = [Finding(name="env.count", value=len(env), subject=subject)]
    which = f" starting with {action.prefix}" if action.prefix else ""
    summary = f"container {container.get('name', '')}: {len(env)} variable(s){which}"
    status = "problem" if action.prefix and not env else "ok"
    return CheckResult(
        status=status,
        summary=summary,
        output=redact(table(["NAME", "VALUE"], rows)),
        findings=findings,
    )
