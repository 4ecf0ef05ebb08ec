"""Sandbox: a scenario's cluster served over HTTP, with its dependency listeners."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import yaml

from bot.drills.kubernetes.api import Api
from bot.drills.kubernetes.certificate import Certificate
from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.scenario import load_scenario
from bot.drills.kubernetes.seed import seed
from bot.drills.kubernetes.server import SandboxServer
from bot.drills.lifecycle import StandIn
from bot.drills.wire.listener import Watcher
from bot.drills.wire.ports import listener_for

# Seconds a new pod takes to get ready.
READY_DELAY = 1.5


class Sandbox(StandIn):
    """A running sandbox cluster; start with `Sandbox.start()`, stop with `stop()` or `with`."""

    _server: SandboxServer

    def __init__(
        self, cluster: Cluster, server: SandboxServer, deps: Watcher, certificate: Certificate
    ) -> None:
        super().__init__(server, deps)
        self.cluster = cluster
        self.token = server.token
        # The API's address, over TLS as kubectl needs; `url` serves the sandbox's own pages.
        self.api_url = server.api_url
        self.certificate = certificate
        self.scenario = cluster.scenario.name
        self.service_name = cluster.scenario.service.name

    @classmethod
    def start(
        cls,
        scenario: str = "oom-bad-deploy",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        ready_delay: float = READY_DELAY,
    ) -> Sandbox:
        cluster = Cluster(load_scenario(scenario), ready_delay)
        with cluster.locked():
            seed(cluster)
        certificate = Certificate(host)
        token = secrets.token_urlsafe(24)
        server = SandboxServer((host, port), Api(cluster), token, certificate.server_context())
        server.latency = latency
        listeners = {
            n: listener_for(d.listener)
            for n, d in cluster.scenario.dependencies.items()
            if d.listener
        }
        deps = Watcher(listeners, lambda name: cls._up(cluster, name))
        server.start()
        return cls(cluster, server, deps, certificate)

    @staticmethod
    def _up(cluster: Cluster, name: str) -> bool:
        with cluster.locked():
            return cluster.dependency_up(name)

    def write_kubeconfig(self, path: str | Path) -> Path:
        """A kubeconfig whose current context reaches this sandbox with its bearer token."""
        authority = base64.b64encode(self.certificate.pem).decode()
        cluster = {"server": self.api_url, "certificate-authority-data": authority}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sandbox", "cluster": cluster}],
            "users": [{"name": "sandbox", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "sandbox",
                    "context": {"cluster": "sandbox", "user": "sandbox", "namespace": "default"},
                }
            ],
            "current-context": "sandbox",
        }
        target = Path(path)
        target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return target

    def binding(self) -> dict[str, object]:
        """Fields of a ServiceBinding for the scenario's service, pointing at this sandbox."""
        spec = self.cluster.scenario.service
        ports = {name: lst.port for name, lst in self._watcher.listeners.items()}
        dependencies: dict[str, dict[str, object]] = {}
        for name in self.cluster.scenario.dependencies:
            entry: dict[str, object] = {"selector": f"app={name}", "pod": f"{name}-0"}
            if name == "redis" and name in ports:
                # The bot reaches the listener; a pod reaches the Service by its cluster name.
                entry["url"] = f"redis://127.0.0.1:{ports[name]}/0"
                ns = self.cluster.scenario.service.namespace
                port = self.cluster.scenario.dependencies[name].port
                entry.update(host=f"{name}.{ns}.svc", port=port)
            elif name in ports:
                entry.update(host="127.0.0.1", port=ports[name])
            dependencies[name] = entry
        health = f"{self.url}/_sandbox/health/{spec.name}"
        return {
            "namespace": spec.namespace,
            "deployment": spec.name,
            "container": spec.container_name,
            "health_url": health,
            "ready_url": f"{health}/ready",
            "live_url": f"{health}/live",
            "metrics_url": f"{self.url}/_sandbox/metrics/{spec.name}",
            "load_balancer_url": f"{self.url}/_sandbox/lb/{spec.name}/health",
            "last_known_good_image": spec.last_known_good_image,
            "dependencies": dependencies,
        }

    def secret_values(self) -> list[str]:
        """Every secret-looking value the cluster holds, for tests asserting none leaks."""
        spec = self.cluster.scenario.service
        found = list(spec.secret.values())
        found += [base64.b64encode(v.encode()).decode() for v in spec.secret.values()]
        found += [v for k, v in spec.config.items() if "PASSWORD" in k or "SECRET" in k]
        found += [str(e["value"]) for e in spec.env if "PASSWORD" in e["name"] and "value" in e]
        return found

    def set_latency(self, seconds: float) -> None:
        self._server.latency = seconds

    def forbid(self, resource: str) -> None:
        self._server.api.forbidden.add(resource)

    def healthy(self) -> bool:
        with self.cluster.locked():
            return self.cluster.service_health(self.service_name)[0]
