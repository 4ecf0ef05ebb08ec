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


class _ConfigMaps:
    """The config maps a container's environment names, each read once; None if unreadable."""

    def __init__(self, kube: KubeClient, namespace: str) -> None:
        self._kube, self._namespace = kube, namespace
        self._read: dict[str, dict[str, str] | None] = {}
        self.problems: dict[str, str] = {}

    async def data(self, name: str) -> dict[str, str] | None:
        if name not in self._read:
            self._read[name] = await self._fetch(name)
        return self._read[name]

    async def _fetch(self, name: str) -> dict[str, str] | None:
        what = f"configmap {name} in namespace {self._namespace}"
        try:
            cm = await self._kube.obj(
                "core", "read_namespaced_config_map", name, self._namespace, what=what
            )
        except KubeError as exc:
            if exc.status not in (403, 404):
                raise
            self.problems[name] = "not found" if exc.status == 404 else "forbidden"
            return None
        return {str(k): str(v) for k, v in (cm.get("data") or {}).items()}


async def _env_value(var: Obj, maps: _ConfigMaps) -> str:
    source = var.get("valueFrom") or {}
    if "secretKeyRef" in source:
        # Secrets are never read (the bot is not granted them): the ref is what is shown.
        ref = source["secretKeyRef"]
        return f"<from secret {ref.get('name', '')} key {ref.get('key', '')}>"
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        name, key = str(ref.get("name", "")), str(ref.get("key", ""))
        data = await maps.data(name)
        if data is None or key not in data:
            missing = maps.problems.get(name, f"has no key {key}")
            return f"<from configmap {name} key {key}: {missing}>"
        return redact_value(str(var.get("name", "")), data[key])
    if "fieldRef" in source:
        return f"<from field {dig(source, 'fieldRef', 'fieldPath') or ''}>"
    if "resourceFieldRef" in source:
        return f"<from resource {dig(source, 'resourceFieldRef', 'resource') or ''}>"
    return redact_value(str(var.get("name", "")), str(var.get("value", "")))


async def _env_from(ref: Obj, maps: _ConfigMaps) -> tuple[list[list[str]], str | None]:
    """(NAME, VALUE, SOURCE) rows an envFrom entry adds, or a note when its keys are unknown."""
    prefix = str(ref.get("prefix") or "")
    if "configMapRef" in ref:
        name = str(dig(ref, "configMapRef", "name") or "")
        data = await maps.data(name)
        if data is None:
            return [], f"<all keys of configmap {name}: {maps.problems.get(name, '')}>"
        source = f"configmap {name}"
        return [[prefix + k, redact_value(prefix + k, v), source] for k, v in data.items()], None
    if "secretRef" in ref:
        shown = f" with prefix {prefix}" if prefix else ""
        return [], f"<all keys of secret {dig(ref, 'secretRef', 'name') or ''}{shown}, not read>"
    return [], "<unknown envFrom source>"


async def read_env(kube: KubeClient, action: K8sEnv, target: ServiceBinding) -> CheckResult:
    """The variables as the pod gets them: envFrom, then env, which wins on a shared name."""
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
    maps = _ConfigMaps(kube, namespace)
    variables: dict[str, list[str]] = {}
    notes: list[str] = []
    for ref in container.get("envFrom") or []:
        rows, note = await _env_from(ref, maps)
        variables.update((row[0], row) for row in rows)
        notes += [note] if note else []
    for var in container.get("env") or []:
        key = str(var.get("name", ""))
        variables[key] = [key, await _env_value(var, maps), "env"]
    chosen = [row for key, row in variables.items() if key.startswith(action.prefix or "")]
    # Columns rather than NAME=value: the redactor would mask "API_KEY=<from secret ...>" refs.
    rows = [*chosen, *(["(envFrom)", note, ""] for note in notes)]
    subject = f"deployment/{name}"
    findings = [Finding(name="env.count", value=len(chosen), subject=subject)]
    which = f" starting with {action.prefix}" if action.prefix else ""
    summary = f"container {container.get('name', '')}: {len(chosen)} variable(s){which}"
    if notes:
        summary += f" ({len(notes)} envFrom source(s) not expanded)"
    status = "problem" if action.prefix and not chosen else "ok"
    return CheckResult(
        status=status,
        summary=summary,
        output=redact(table(["NAME", "VALUE", "SOURCE"], rows)),
        findings=findings,
    )
