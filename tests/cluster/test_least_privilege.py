"""Least privilege, proven on the real API server: every Kubernetes step as the bot's account.

The RBAC is what `runbook-bot rbac` generates for a config; the bot runs with a token of its
ServiceAccount minted by the TokenRequest API. No step may be refused, except `k8s.secret_keys`
(secrets are granted nowhere, by design); outside the config's namespaces it may do nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from bot.config import ServiceBinding, load_config
from bot.engine.binding import resolve_action
from bot.executors.base import ReadAction, WriteAction
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.kubernetes import params as p
from bot.playbooks.checks import step_actions
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import FixStep, Playbook
from bot.settings import Settings
from bot.templates import TemplateRenderer
from cluster.control_plane import ControlPlane
from tests.support.real_cluster import Cluster, Obj, container, template
from tests.support.service_account import (
    ROOT,
    client_config,
    generate_rbac,
    service_account_kubeconfig,
)
from tests.support.service_stage import (
    INGRESS,
    RELEASES,
    SERVICE,
    settle,
    stage,
    write_config,
)

# What the real API server cannot serve here, and nothing to do with permissions: exec goes
# through a kubelet (there is none), `top` needs the metrics API (not installed).
NOT_SERVED = {
    "k8s.exec": "does not have a host assigned",
    "k8s.top_pods": "metrics API not installed: the cluster does not serve metrics.k8s.io",
    "k8s.top_nodes": "metrics API not installed: the cluster does not serve metrics.k8s.io",
}


def kubernetes_playbooks() -> dict[str, Playbook]:
    settings = Settings.from_env({})
    found = load_playbooks(ROOT / "playbooks", TemplateRenderer(settings.templates_dir))
    return {
        pid: pb.for_platform("kubernetes")
        for pid, pb in sorted(found.items())
        if pb.platform in ("kubernetes", "any")
    }


@dataclass
class Account:
    """The bot's ServiceAccount kubeconfig and the namespaces the test made."""

    kubeconfig: Path
    namespace: str  # the service's
    ingress: str
    bot: str
    outside: str
    binding: ServiceBinding
    rbac: list[Obj]


@pytest.fixture(scope="module")
def account(
    control_plane: ControlPlane, cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Account]:
    folder = tmp_path_factory.mktemp("least-privilege")
    ns, ingress = cluster.new_namespace("svc"), cluster.new_namespace("ingress")
    bot, outside = cluster.new_namespace("bot"), cluster.new_namespace("outside")
    config = write_config(folder / "config.yaml", ns, ingress, list(kubernetes_playbooks()))
    rbac = folder / "rbac.yaml"
    rbac.write_text(generate_rbac(config, bot))
    cluster.kubectl("apply", "-f", str(rbac))
    objects = [o for o in yaml.safe_load_all(rbac.read_text()) if o]
    kubeconfig = service_account_kubeconfig(control_plane, cluster, bot, folder / "kubeconfig")
    stage(cluster, ns)
    cluster.deploy(ingress, INGRESS, [template(INGRESS, container(INGRESS, "nginx:1.27"))], 1)
    cluster.roll_out(ingress, INGRESS)
    cluster.deploy(outside, SERVICE, RELEASES[:1], 1)
    Cluster.create(
        cluster.core.create_namespaced_secret,
        outside,
        {"metadata": {"name": f"{SERVICE}-secrets"}, "stringData": {"token": "hidden"}},
    )
    binding = load_config(config).binding(SERVICE)
    yield Account(kubeconfig, ns, ingress, bot, outside, binding, objects)
    for name in (ns, ingress, bot, outside):
        cluster.delete_namespace(name)
    for obj in objects:
        if obj["kind"] == "ClusterRoleBinding":
            cluster.rbac.delete_cluster_role_binding(obj["metadata"]["name"])
        elif obj["kind"] == "ClusterRole":
            cluster.rbac.delete_cluster_role(obj["metadata"]["name"])


@pytest.fixture
async def bot(account: Account) -> AsyncIterator[KubernetesExecutor]:
    ex = KubernetesExecutor(str(account.kubeconfig))
    yield ex
    await ex.close()


def forbidden(text: str) -> bool:
    return "forbidden" in text.lower() or "403" in text


def one_line(text: str) -> bool:
    return bool(text) and "\n" not in text and "Traceback" not in text


@dataclass
class Ran:
    where: str  # playbook/step:field
    type: str
    outcome: str  # "ok" or the one-line error
    error: bool


async def run_step(
    bot: KubernetesExecutor, cluster: Cluster, account: Account, is_fix: bool, action: Any
) -> Ran:
    """One action as the engine runs it: placeholders bound, a fix previewed, then applied."""
    concrete = resolve_action(action, account.binding, SERVICE)
    if is_fix:
        assert isinstance(concrete, WriteAction)
        preview = await bot.preview(concrete, account.binding)
        if preview.error is not None:
            return Ran("", concrete.type, f"preview: {preview.error}", True)
        assert not forbidden(preview.summary + preview.diff), preview
        applied = await bot.apply(concrete, account.binding)
        settle(cluster, account.namespace)
        result = applied
    else:
        assert isinstance(concrete, ReadAction)
        result = await bot.check(concrete, account.binding)
    # A read that half-works (say, claims without their volumes) tells so in its output.
    assert result.status == "error" or not forbidden(result.output), result.output
    return Ran("", concrete.type, result.summary, result.status == "error")


async def test_every_kubernetes_step_runs_as_the_service_account(
    account: Account, bot: KubernetesExecutor, cluster: Cluster
) -> None:
    ran: list[Ran] = []
    for pid, playbook in kubernetes_playbooks().items():
        for _, step in playbook.steps():
            for field, action in step_actions(step):
                if not action.type.startswith("k8s."):  # type: ignore[attr-defined]
                    continue
                is_fix = isinstance(step, FixStep) and field == "action"
                done = await run_step(bot, cluster, account, is_fix, action)
                done.where = f"{pid}/{step.id}:{field}"
                ran.append(done)
    print(f"\n{len(ran)} Kubernetes steps run as system:serviceaccount:{account.bot}:runbook-bot")
    for done in ran:
        print(f"  {done.where} {done.type}: {done.outcome if done.error else 'ok'}")
    assert all(one_line(done.outcome) for done in ran if done.error)
    secret_line = f"forbidden: cannot get secrets in namespace {account.namespace} (403)"
    secrets = [done for done in ran if done.type == "k8s.secret_keys"]
    assert secrets and all(done.outcome == secret_line for done in secrets), secrets
    refused = [d for d in ran if d.type != "k8s.secret_keys" and forbidden(d.outcome)]
    assert not refused, "refused as the ServiceAccount:\n" + "\n".join(
        f"{d.where} {d.type}: {d.outcome}" for d in refused
    )
    # Not a permission problem, and only where a kubelet or the metrics API is missing.
    failed = [d for d in ran if d.error and d.type != "k8s.secret_keys"]
    assert all(NOT_SERVED.get(d.type, "-") in d.outcome for d in failed), "\n".join(
        f"{d.where} {d.type}: {d.outcome}" for d in failed
    )
    assert {d.where.split("/")[0] for d in ran} == set(kubernetes_playbooks())


def test_the_generated_rbac_and_the_token_are_the_bots(account: Account) -> None:
    """Roles where the service and its ingress controller live; the token is the account's."""
    roles = {o["metadata"]["namespace"] for o in account.rbac if o["kind"] == "Role"}
    assert roles == {account.namespace, account.ingress}
    assert not any(
        rule["resources"] == ["secrets"]
        for o in account.rbac
        if o["kind"] in ("Role", "ClusterRole")
        for rule in o["rules"]
    )
    api = kubernetes.client.ApiClient(client_config(account.kubeconfig))
    try:
        review = Cluster.read(
            kubernetes.client.AuthenticationV1Api(api).create_self_subject_review,
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    finally:
        api.close()  # type: ignore[no-untyped-call]
    user = review["status"]["userInfo"]["username"]
    assert user == f"system:serviceaccount:{account.bot}:runbook-bot"


async def test_outside_the_config_the_account_is_refused_in_one_line(
    account: Account, bot: KubernetesExecutor
) -> None:
    """A Secret's data and a write outside the config's namespaces: 403, one line each."""
    api = kubernetes.client.ApiClient(client_config(account.kubeconfig))
    try:
        with pytest.raises(kubernetes.client.ApiException) as read:
            kubernetes.client.CoreV1Api(api).read_namespaced_secret(
                f"{SERVICE}-secrets", account.outside
            )
        with pytest.raises(kubernetes.client.ApiException) as write:
            kubernetes.client.AppsV1Api(api).patch_namespaced_deployment_scale(
                SERVICE, account.outside, {"spec": {"replicas": 5}}
            )
    finally:
        api.close()  # type: ignore[no-untyped-call]
    assert read.value.status == 403 and write.value.status == 403
    assert read.value.body is not None and write.value.body is not None
    assert 'cannot get resource "secrets"' in json.loads(read.value.body)["message"]
    assert 'cannot patch resource "deployments/scale"' in json.loads(write.value.body)["message"]
    # The same two through the bot: one line naming the verb, the resource and the namespace.
    outside = account.binding.model_copy(update={"namespace": account.outside})
    secret = await bot.check(p.K8sSecretKeys(type="k8s.secret_keys"), outside)
    scale = p.K8sScale(type="k8s.scale", replicas=5)
    preview = await bot.preview(scale, outside)
    applied = await bot.apply(scale, outside)
    lines = {
        "secret": secret.summary,
        "scale preview": preview.error or "",
        "scale": applied.summary,
    }
    print("\n" + "\n".join(f"{what}: {line}" for what, line in lines.items()))
    assert secret.status == "error" and applied.status == "error"
    # The fix reads the scale before it writes it, so the read is what the server refuses.
    scale_line = f"forbidden: cannot get deployments/scale in namespace {account.outside} (403)"
    assert lines == {
        "secret": f"forbidden: cannot get secrets in namespace {account.outside} (403)",
        "scale preview": scale_line,
        "scale": scale_line,
    }
    assert all(one_line(line) for line in lines.values())
