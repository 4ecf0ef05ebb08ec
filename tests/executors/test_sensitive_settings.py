"""`k8s.env` and `k8s.configmap` mask values by the one key-name rule of bot.redact."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.drills.kubernetes.objects import configmap
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.kubernetes import params as p

ENV = {
    "STRIPE_KEY": "sk_test_EnvStripeValue01",
    "SALT": "EnvSaltValue02",
    "ENCRYPTION_KEY": "EnvEncryptionValue03",
    "SIGNUP_WEBHOOK": "EnvWebhookValue04",
    "LOG_FORMAT": "json",
}
CONFIG = {
    "hmac.key": "CmHmacValue05",
    "webhook.url": "https://hooks.example.org/services/CmWebhookValue06",
    "credentials": "CmCredentialsValue07",
    "oauth.clientToken": "CmTokenValue08",
    "log.level": "debug",
}
SECRET_VALUES = [v for k, v in {**ENV, **CONFIG}.items() if k not in ("LOG_FORMAT", "log.level")]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sb:
        with sb.cluster.locked():
            sb.cluster.put("configmaps", configmap("app-settings", "default", CONFIG, 0.0))
        yield sb


@pytest.fixture
def binding(sandbox: Sandbox) -> ServiceBinding:
    return ServiceBinding.model_validate(sandbox.binding()).with_defaults(sandbox.service_name)


@pytest.fixture
async def executor(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[KubernetesExecutor]:
    ex = KubernetesExecutor(str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
    yield ex
    await ex.close()


async def test_env_and_config_map_values_are_masked_by_name(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    applied = await executor.apply(p.K8sSetEnv(type="k8s.set_env", env=ENV), binding)
    assert applied.status == "ok", applied.summary

    env = await executor.check(p.K8sEnv(type="k8s.env"), binding)
    cm = await executor.check(p.K8sConfigMap(type="k8s.configmap", name="app-settings"), binding)
    assert env.status == "ok" and cm.status == "ok"
    assert "json" in env.output and "debug" in cm.output  # ordinary settings still show
    for shown in (env.model_dump_json(), cm.model_dump_json(), applied.model_dump_json()):
        assert [s for s in SECRET_VALUES if s in shown] == []
