"""The view from inside a sandbox container: the names it resolves, its env, its files."""

from __future__ import annotations

import base64
import posixpath
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.objects import Obj
from bot.drills.kubernetes.pods import PodRecord
from bot.drills.kubernetes.volumes import mounted

_LOCAL = ("localhost", "127.0.0.1", "::1", "0.0.0.0")
# Where the sandbox's outside world lives (TEST-NET-3, never routed).
_EXTERNAL_IP = "203.0.113.10"


@dataclass(frozen=True)
class Target:
    """Where a host name (and port) leads from inside the pod."""

    name: str
    ip: str
    port: int
    up: bool
    # The service's own HTTP health, for curl: 200 when healthy.
    healthy: bool = True


class Inside:
    """What a process in one pod's container sees: names, environment, files."""

    def __init__(self, cluster: Cluster, pod: PodRecord) -> None:
        self.cluster = cluster
        self.pod = pod
        self.app = pod.labels.get("app", "")

    def resolve(self, host: str, port: int | None = None) -> Target | None:
        """The workload a host name reaches, None when it does not resolve."""
        scenario = self.cluster.scenario
        svc = scenario.service
        short = host.split(".")[0]
        if host in _LOCAL:
            short = self.app
        if short == svc.name:
            local = host in _LOCAL
            if local:
                up = self.cluster.pod_state(self.pod).phase in ("ready", "unready")
                healthy = self.cluster.pod_state(self.pod).phase == "ready"
                wanted, ip = svc.port, self.pod.ip
            else:
                up = self.cluster.ready_endpoints(svc.name) > 0
                healthy = self.cluster.service_health(svc.name)[0]
                wanted, ip = 80, self._cluster_ip(svc.name)
            ok = port in (None, wanted)
            return Target(svc.name, ip, wanted, up and ok, healthy and ok)
        dep = scenario.dependencies.get(short)
        if dep is None:
            return self._external(host, port)
        if host in _LOCAL and self.app != short:
            return Target(host, host, dep.port, False, False)
        up = self.cluster.dependency_up(short) and port in (None, dep.port)
        ip = self.pod.ip if host in _LOCAL else self._cluster_ip(short)
        return Target(short, ip, dep.port, up, up)

    def _external(self, host: str, port: int | None) -> Target | None:
        """A host outside the cluster, reached through the node's network."""
        for spec in self.cluster.scenario.external.values():
            url = urlsplit(spec.url)
            if url.hostname == host:
                wanted = url.port or (443 if url.scheme == "https" else 80)
                up = spec.up and port in (None, wanted)
                return Target(host, _EXTERNAL_IP, wanted, up, up)
        return None

    def _cluster_ip(self, name: str) -> str:
        svc = self.cluster.find("services", self.pod.namespace, name)
        return str(svc["spec"]["clusterIP"]) if svc else "10.96.0.1"

    def path(self, given: str) -> str:
        """An absolute path: a relative one is taken from the container's working directory."""
        workdir = self.pod.container.get("workingDir") or "/"
        return posixpath.normpath(posixpath.join(workdir, given))

    def env(self) -> list[tuple[str, str]]:
        container = self.pod.container
        found = [("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                 ("HOSTNAME", self.pod.name)]  # fmt: skip
        for var in container.get("env") or []:
            found.append((str(var["name"]), self._value(var)))
        for ref in container.get("envFrom") or []:
            prefix = str(ref.get("prefix") or "")
            if "configMapRef" in ref:
                data = self._data("configmaps", ref["configMapRef"].get("name", ""))
            else:
                data = self._data("secrets", (ref.get("secretRef") or {}).get("name", ""))
            found += [(prefix + k, v) for k, v in sorted(data.items())]
        found += [("KUBERNETES_SERVICE_HOST", "10.96.0.1"), ("KUBERNETES_SERVICE_PORT", "443")]
        return [*found, ("HOME", "/root")]

    def _value(self, var: Obj) -> str:
        source = var.get("valueFrom") or {}
        for kind, resource in (("secretKeyRef", "secrets"), ("configMapKeyRef", "configmaps")):
            if kind in source:
                ref = source[kind]
                return self._data(resource, str(ref.get("name", ""))).get(str(ref.get("key")), "")
        return str(var.get("value", ""))

    def _data(self, resource: str, name: str) -> dict[str, str]:
        if resource == "configmaps" and self.pod.role == "app" and name == f"{self.app}-config":
            # Environment variables are read once, when the container starts.
            return dict(self.pod.config)
        obj = self.cluster.find(resource, self.pod.namespace, name) or {}
        data = dict(obj.get("data") or {})
        if resource == "secrets":
            return {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
        return {str(k): str(v) for k, v in data.items()}

    def files(self) -> dict[str, str]:
        found = {
            "/etc/hostname": f"{self.pod.name}\n",
            "/etc/resolv.conf": (
                f"search {self.pod.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
                "nameserver 10.96.0.10\noptions ndots:5\n"
            ),
        }
        scenario = self.cluster.scenario
        if self.app == scenario.service.name:
            found.update(scenario.files)
        elif self.app in scenario.dependencies:
            found.update(scenario.dependencies[self.app].files)
        return found

    def directories(self) -> set[str]:
        dirs = {"/", "/etc", "/tmp"} | {v.mount for v in mounted(self.cluster.scenario, self.app)}
        for path in self.files():
            parent = posixpath.dirname(path)
            while parent not in dirs:
                dirs.add(parent)
                parent = posixpath.dirname(parent)
        return dirs
