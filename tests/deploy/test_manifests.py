"""deploy/kubernetes/: the manifests parse, fit together, and the RBAC is the generated one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import cli, rbac
from bot.config import parse_config
from bot.playbooks.bindings import catalog_problems
from bot.playbooks.loader import load_playbooks
from bot.settings import Settings
from bot.templates import TemplateRenderer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}
SLACK_KEYS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"}


def _files() -> list[Path]:
    return sorted(DEPLOY.rglob("*.yaml"))


def _objects() -> list[dict[str, Any]]:
    found = []
    for path in _files():
        found += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return found


def _one(kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture
def example_config(tmp_path: Path) -> Path:
    """The example ConfigMap's config file, as the bot would read it from the mount."""
    text = _one("ConfigMap", "runbook-bot-config")["data"]["config.yaml"]
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def bot() -> dict[str, Any]:
    return _one("Deployment", "runbook-bot")


@pytest.fixture
def container(bot: dict[str, Any]) -> dict[str, Any]:
    containers = bot["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def test_every_manifest_parses_and_names_its_object() -> None:
    assert {p.name for p in _files()} >= {
        "deployment.yaml", "pdb.yaml", "service.yaml", "serviceaccount.yaml", "rbac.yaml",
        "redis.yaml", "configmap.yaml", "namespace.yaml", "secret.yaml",
    }  # fmt: skip
    for path in _files():
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        assert docs, f"{path.name} holds no object"
        for doc in docs:
            assert isinstance(doc, dict), path.name
            assert doc.get("apiVersion") and doc.get("kind"), path.name
            assert doc.get("metadata", {}).get("name"), f"{path.name}: a {doc['kind']} has no name"


def test_deployment_runs_three_probed_bounded_replicas(
    bot: dict[str, Any], container: dict[str, Any]
) -> None:
    assert bot["spec"]["replicas"] == 3
    assert container["image"] == "runbook-bot:0.1.0" and container["args"] == ["socket"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    def probe(kind: str) -> tuple[str, int]:
        get = container[kind]["httpGet"]
        port = get["port"]
        return get["path"], ports[port] if isinstance(port, str) else port

    assert probe("livenessProbe") == ("/healthz", 3000)
    assert probe("readinessProbe") == ("/readyz", 3000)
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}, bound


def test_replicas_spread_over_nodes_and_zones_without_blocking_a_rollout(
    bot: dict[str, Any],
) -> None:
    pod = bot["spec"]["template"]["spec"]
    labels = bot["spec"]["template"]["metadata"]["labels"]
    anti = pod["affinity"]["podAntiAffinity"]
    # Preferred only: a required rule would leave the surge pod of a rolling update (or a
    # replica more than there are nodes) Pending.
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti
    (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert _selects(term["podAffinityTerm"]["labelSelector"]["matchLabels"], labels)
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert _selects(spread["labelSelector"]["matchLabels"], labels)
    strategy = bot["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0 and strategy["maxSurge"] == 1
    assert (
        bot["spec"]["replicas"] > _one("PodDisruptionBudget", "runbook-bot")["spec"]["minAvailable"]
    )


def test_deployment_is_locked_down(bot: dict[str, Any], container: dict[str, Any]) -> None:
    pod = bot["spec"]["template"]["spec"]
    context = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    account = _one("ServiceAccount", pod["serviceAccountName"])
    assert account["metadata"]["namespace"] == bot["metadata"]["namespace"]
    assert account["automountServiceAccountToken"] is True
    assert pod["automountServiceAccountToken"] is True


def test_environment_comes_from_the_secret_redis_and_the_config_map(
    bot: dict[str, Any], container: dict[str, Any]
) -> None:
    env = {e["name"]: e for e in container["env"]}
    refs = {n: e["valueFrom"]["secretKeyRef"] for n, e in env.items() if "valueFrom" in e}
    assert refs == {k: {"name": "runbook-bot-slack", "key": k} for k in SLACK_KEYS}
    assert not any("value" in env[k] for k in SLACK_KEYS), "a Slack token written inline"
    example = _one("Secret", "runbook-bot-slack")
    assert set(example["stringData"]) == SLACK_KEYS
    assert all(v.startswith("PLACEHOLDER") for v in example["stringData"].values())
    redis = _one("Service", "runbook-bot-redis")
    assert (
        env["REDIS_URL"]["value"]
        == f"redis://runbook-bot-redis:{redis['spec']['ports'][0]['port']}/0"
    )
    store = _one("StatefulSet", "runbook-bot-redis")
    assert _selects(redis["spec"]["selector"], store["spec"]["template"]["metadata"]["labels"])
    assert store["spec"]["volumeClaimTemplates"], "Redis keeps its data on a volume"
    # RUNBOOK_BOT_CONFIG names the config map's file where the pod mounts it.
    config = Path(env["RUNBOOK_BOT_CONFIG"]["value"])
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == config.parent)
    volume = next(
        v for v in bot["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    assert volume["configMap"]["name"] == "runbook-bot-config"
    assert {"key": "config.yaml", "path": config.name} in volume["configMap"]["items"]


def test_pdb_and_service_select_the_bots_pods(
    bot: dict[str, Any], container: dict[str, Any]
) -> None:
    labels = bot["spec"]["template"]["metadata"]["labels"]
    assert bot["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pdb = _one("PodDisruptionBudget", "runbook-bot")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["metadata"]["namespace"] == bot["metadata"]["namespace"]
    assert _selects(pdb["spec"]["selector"]["matchLabels"], labels)
    redis_labels = _one("StatefulSet", "runbook-bot-redis")["spec"]["template"]["metadata"]
    assert not _selects(pdb["spec"]["selector"]["matchLabels"], redis_labels["labels"])
    service = _one("Service", "runbook-bot")
    assert _selects(service["spec"]["selector"], labels)
    (port,) = service["spec"]["ports"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["port"] == 3000 and named[port["targetPort"]] == 3000


def _rules() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for obj in _objects():
        if obj["kind"] in ("Role", "ClusterRole"):
            for rule in obj["rules"]:
                yield obj, rule


def test_rbac_is_least_privilege() -> None:
    assert list(_rules()), "no RBAC rules found"
    for obj, rule in _rules():
        name = f"{obj['kind']} {obj['metadata']['name']}"
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], f"{name} grants * {key}"
        assert not any(r.split("/")[0] == "secrets" for r in rule["resources"]), name
        if obj["kind"] == "ClusterRole":
            assert not WRITE_VERBS & set(rule["verbs"]), f"{name} grants a write"
    assert not [o for o in _objects() if o["kind"] == "ClusterRole" and o.get("aggregationRule")]


def test_each_role_is_bound_to_the_bots_service_account() -> None:
    account = _one("ServiceAccount", "runbook-bot")
    subject = {"kind": "ServiceAccount", "name": "runbook-bot",
               "namespace": account["metadata"]["namespace"]}  # fmt: skip
    roles = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in _objects()
        if o["kind"] in ("Role", "ClusterRole")
    }
    bound = set()
    for obj in _objects():
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            assert obj["subjects"] == [subject], obj["metadata"]["name"]
            ref = obj["roleRef"]
            scope = obj["metadata"].get("namespace") if ref["kind"] == "Role" else None
            bound.add((ref["kind"], scope, ref["name"]))
    assert bound == roles


def test_committed_rbac_is_the_generated_one(
    example_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(["rbac", "--config", str(example_config), "--playbooks", str(ROOT / "playbooks")])
        == 0
    )
    generated = capsys.readouterr().out
    assert generated == (DEPLOY / "rbac.yaml").read_text(encoding="utf-8"), (
        "deploy/kubernetes/rbac.yaml is stale; regenerate it (see deploy/kubernetes/README.md)"
    )
    roles = [o for o in _objects() if o["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["ecap", "gateway", "ingress-nginx"]


def test_example_config_binds_what_its_playbooks_need(example_config: Path) -> None:
    settings = Settings.from_env({})
    playbooks = load_playbooks(settings.playbooks_dir, TemplateRenderer(settings.templates_dir))
    assert catalog_problems(example_config, playbooks) == []


def test_namespaces_come_from_services_ingress_and_literal_playbook_params(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(ROOT / "playbooks", folder)
    api_down = folder / "api-down.yml"
    text = api_down.read_text(encoding="utf-8")
    assert '"${service.ingress_controller.namespace}"' in text
    api_down.write_text(text.replace('"${service.ingress_controller.namespace}"', "edge"))
    settings = Settings.from_env({})
    playbooks = load_playbooks(folder, TemplateRenderer(settings.templates_dir))
    config = parse_config(
        {
            "services": {
                "web": {"namespace": "shop", "playbooks": ["api-down"]},
                "other": {"namespace": "billing", "playbooks": ["api-gateway-down"],
                          "ingress_controller": {"namespace": "nginx", "deployment": "ctl"}},
                "compose": {"platform": "docker", "namespace": "never", "container": "c"},
            }
        }
    )  # fmt: skip
    # `edge` is literal in api-down; `billing`'s playbook has none, and Docker gets no Role.
    assert rbac.rbac_namespaces(config, playbooks) == [
        "billing", "edge", "ingress-nginx", "nginx", "shop",
    ]  # fmt: skip


def test_rbac_command_refuses_a_bad_config_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("services: {web: {namespace: 5, nope: 1}}\n", encoding="utf-8")
    assert cli.main(["rbac", "--config", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    monkeypatch.delenv("RUNBOOK_BOT_CONFIG", raising=False)
    assert cli.main(["rbac"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "error: no config: pass --config FILE or set RUNBOOK_BOT_CONFIG\n"
