"""DockerSandbox: a scenario's Docker host served as an Engine API, with its published ports."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from bot.drills.docker.api import Api
from bot.drills.docker.health import app_health, app_listening, dependency_running
from bot.drills.docker.host import Host
from bot.drills.docker.scenario import load_scenario
from bot.drills.docker.server import EngineServer
from bot.drills.lifecycle import StandIn
from bot.drills.wire.listener import Watcher
from bot.drills.wire.ports import listener_for

DEFAULT_SCENARIO = "container-crashed"
# Seconds a started container takes to answer on its port.
READY_DELAY = 1.0


class DockerSandbox(StandIn):
    """A running sandbox Docker engine; start with `DockerSandbox.start()`, stop with `stop()`."""

    def __init__(self, host: Host, server: EngineServer, watcher: Watcher) -> None:
        super().__init__(server, watcher)
        self.host = host
        address, port = server.server_address[:2]
        # What DOCKER_HOST (or DockerClient(base_url=...)) must be to reach this engine.
        self.docker_host = f"tcp://{address!s}:{port}"
        self.scenario = host.scenario.name
        self.service_name = host.scenario.service

    @classmethod
    def start(
        cls,
        scenario: str = DEFAULT_SCENARIO,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ready_delay: float = READY_DELAY,
        clock: Callable[[], float] = time.time,
        oom_after: float | None = None,
    ) -> DockerSandbox:
        spec = load_scenario(scenario)
        state: list[Host] = []

        def answer(path: str) -> tuple[int, dict[str, object]]:
            with state[0].locked():
                probe = path.removeprefix(spec.health_path)
                if spec.probes and probe == "/live":
                    # Liveness asks only that the process answers, which it is doing.
                    return 200, {"status": "Healthy"}
                if probe not in ("", "/ready" if spec.probes else ""):
                    return 404, {"detail": "Not Found"}
                healthy, body = app_health(state[0])
                return (200 if healthy else 503), body

        listeners = {
            name: listener_for(c.listener, answer)
            for name, c in spec.containers.items()
            if c.listener
        }
        ports = {name: listener.port for name, listener in listeners.items()}
        docker_host = Host(spec, ports, ready_delay, clock, oom_after)
        state.append(docker_host)
        # Faster than the cluster's: a published port should follow its container at once.
        watcher = Watcher(listeners, lambda name: cls._serving(docker_host, name), period=0.05)
        server = EngineServer((host, port), Api(docker_host))
        server.start()
        return cls(docker_host, server, watcher)

    @staticmethod
    def _serving(host: Host, name: str) -> bool:
        with host.locked():
            if name == host.scenario.app:
                return app_listening(host)
            return dependency_running(host, name)

    def port_of(self, container: str) -> int:
        return self._watcher.listeners[container].port

    @property
    def health_url(self) -> str:
        spec = self.host.scenario
        return f"http://127.0.0.1:{self.port_of(spec.app)}{spec.health_path}"

    def binding(self) -> dict[str, object]:
        """Fields of a ServiceBinding for the scenario's service, pointing at this sandbox."""
        spec = self.host.scenario
        app = spec.containers[spec.app]
        dependencies: dict[str, dict[str, object]] = {}
        for name, container in spec.containers.items():
            if name == spec.app:
                continue
            entry: dict[str, object] = {"container": name}
            if container.listener:
                entry.update(host="127.0.0.1", port=self.port_of(name))
            if container.listener == "redis":
                entry["url"] = f"redis://127.0.0.1:{self.port_of(name)}/0"
            elif container.listener == "postgres":
                entry["url"] = self._postgres_url(container.env, self.port_of(name))
            dependencies[container.service] = entry
        probes = (
            {"ready_url": f"{self.health_url}/ready", "live_url": f"{self.health_url}/live"}
            if spec.probes
            else {}
        )
        return {
            "platform": "docker",
            "display_name": spec.service,
            "container": spec.app,
            "compose_project": spec.project,
            "compose_service": app.service,
            "health_url": self.health_url,
            **probes,
            "dependencies": dependencies,
        }

    @staticmethod
    def _postgres_url(env: dict[str, str], port: int) -> str:
        """The database's URL with the container's own user and password (a secret to redact)."""
        user = quote(env.get("POSTGRES_USER", "postgres"), safe="")
        password = quote(env.get("POSTGRES_PASSWORD", ""), safe="")
        database = env.get("POSTGRES_DB", "postgres")
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{port}/{database}"

    def secret_values(self) -> list[str]:
        """Every secret-looking value the containers hold, for tests asserting none leaks."""
        markers = ("PASSWORD", "SECRET", "KEY", "TOKEN")
        return [
            value
            for container in self.host.scenario.containers.values()
            for key, value in container.env.items()
            if any(m in key for m in markers)
        ]

    def healthy(self) -> bool:
        with self.host.locked():
            return app_listening(self.host) and app_health(self.host)[0]
