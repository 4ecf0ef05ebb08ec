"""The bot's own identity on the real cluster: its generated RBAC, a ServiceAccount token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes

from cluster.control_plane import ControlPlane, kubeconfig_text
from tests.support.real_cluster import Cluster

RUNBOOK_BOT = str(Path(sys.executable).parent / "runbook-bot")
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "runbook-bot"


def generate_rbac(config: Path, bot_namespace: str) -> str:
    """The YAML `runbook-bot rbac` prints for the config, as an operator would run it."""
    out = subprocess.run(
        [RUNBOOK_BOT, "rbac", "--config", str(config), "--playbooks", str(ROOT / "playbooks"),
         "--bot-namespace", bot_namespace],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, f"runbook-bot rbac failed: {out.stderr.strip()}"
    return out.stdout


def service_account_kubeconfig(
    plane: ControlPlane, cluster: Cluster, namespace: str, path: Path
) -> Path:
    """Create the bot's ServiceAccount, mint a token (TokenRequest API), write a kubeconfig."""
    Cluster.create(
        cluster.core.create_namespaced_service_account, namespace, {"metadata": {"name": ACCOUNT}}
    )
    minted = cluster.read(
        cluster.core.create_namespaced_service_account_token,
        ACCOUNT,
        namespace,
        {"spec": {"expirationSeconds": 3600}},
    )
    path.write_text(kubeconfig_text(plane.server, plane.pki, token=str(minted["status"]["token"])))
    return path


def client_config(kubeconfig: Path) -> kubernetes.client.Configuration:
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=config
    )
    return config
