"""k8s.env reads the environment as the pod gets it: envFrom and valueFrom config maps resolved."""

from __future__ import annotations

from collections.abc import Callable

from bot.drills.kubernetes.objects import configmap
from bot.executors.kubernetes import params as p
from tests.executors.conftest import Started
from tests.support.findings import values


def key_ref(name: str, kind: str, source: str, key: str) -> dict[str, object]:
    return {"name": name, "valueFrom": {kind: {"name": source, "key": key}}}


async def test_env_from_a_config_map_is_expanded(start: Callable[[str], Started]) -> None:
    # The base scenario's container takes ecap-api-config whole (envFrom configMapRef).
    sandbox, executor, binding = start("database-down")
    env = await executor.check(p.K8sEnv(type="k8s.env", prefix="DATABASE_"), binding)
    assert env.status == "ok", env.summary
    assert values(env, "env.count") == [2]
    assert env.summary == "container ecap-api: 2 variable(s) starting with DATABASE_"
    url = "postgres://ecap@postgres.default.svc.cluster.local:5432/ecap"
    assert f"DATABASE_URL        {url}   configmap ecap-api-config" in env.output
    assert "DATABASE_PASSWORD   [redacted]" in env.output
    everything = await executor.check(p.K8sEnv(type="k8s.env"), binding)
    assert "<from secret ecap-api-secrets key API_KEY>" in everything.output
    shown = env.model_dump_json() + everything.model_dump_json()
    assert not [s for s in sandbox.secret_values() if s in shown]


async def test_key_refs_prefixes_overrides_and_secret_sources(
    start: Callable[[str], Started],
) -> None:
    sandbox, executor, binding = start("database-down")
    with sandbox.cluster.locked():
        sandbox.cluster.put(
            "configmaps",
            configmap("feature-flags", "default", {"CACHE_TTL": "30", "LOG_LEVEL": "warn"}, 0.0),
        )
        deployment = sandbox.cluster.find("deployments", "default", "ecap-api")
        assert deployment is not None
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        container["envFrom"] = [
            {"configMapRef": {"name": "ecap-api-config"}},
            {"configMapRef": {"name": "feature-flags"}, "prefix": "FLAG_"},
            {"secretRef": {"name": "ecap-api-secrets"}},
            {"configMapRef": {"name": "gone"}},
        ]
        container["env"] = [
            {"name": "LOG_LEVEL", "value": "debug"},
            key_ref("TTL", "configMapKeyRef", "feature-flags", "CACHE_TTL"),
            key_ref("DB_SECRET", "configMapKeyRef", "ecap-api-config", "DATABASE_PASSWORD"),
            key_ref("ABSENT", "configMapKeyRef", "feature-flags", "NOPE"),
        ]
    env = await executor.check(p.K8sEnv(type="k8s.env"), binding)
    rows = {line.split()[0]: line for line in env.output.splitlines()[1:] if line.strip()}
    # env wins over envFrom on a name both give, as the kubelet does.
    assert rows["LOG_LEVEL"].split()[1:] == ["debug", "env"]
    assert rows["FLAG_LOG_LEVEL"].split()[1:] == ["warn", "configmap", "feature-flags"]
    assert rows["TTL"].split()[1:] == ["30", "env"]
    assert rows["DB_SECRET"].split()[1] == "[redacted]"
    assert "<from configmap feature-flags key NOPE: has no key NOPE>" in rows["ABSENT"]
    assert "<all keys of secret ecap-api-secrets, not read>" in env.output
    assert "<all keys of configmap gone: not found>" in env.output
    assert env.summary.endswith("(2 envFrom source(s) not expanded)")
    assert not [s for s in sandbox.secret_values() if s in env.model_dump_json()]
