"""`runbook-bot sandbox`: one scenario's stand-in, served in the foreground until interrupted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bot.drills.catalog import named
from bot.drills.docker import DockerSandbox
from bot.drills.docker.sandbox import READY_DELAY as CONTAINER_READY_DELAY
from bot.drills.kubernetes import Sandbox
from bot.drills.kubernetes.sandbox import READY_DELAY as POD_READY_DELAY
from bot.drills.lifecycle import serve_until_interrupted


def serve(
    scenario: str, host: str, port: int, kubeconfig: str | None, ready_delay: float | None
) -> int:
    """Serve the scenario's cluster or Docker engine; unset `ready_delay`: its own default."""
    chosen = named(scenario)
    if chosen.platform == "docker":
        delay = CONTAINER_READY_DELAY if ready_delay is None else ready_delay
        engine = DockerSandbox.start(chosen.name, host=host, port=port, ready_delay=delay)
        return serve_until_interrupted(engine, _engine_lines(engine))
    delay = POD_READY_DELAY if ready_delay is None else ready_delay
    cluster = Sandbox.start(chosen.name, host=host, port=port, ready_delay=delay)
    return serve_until_interrupted(cluster, _cluster_lines(cluster, kubeconfig))


def _engine_lines(engine: DockerSandbox) -> Iterator[str]:
    yield f"sandbox Docker engine '{engine.scenario}': DOCKER_HOST={engine.docker_host}"
    yield f"health URL: {engine.health_url}"


def _cluster_lines(cluster: Sandbox, kubeconfig: str | None) -> Iterator[str]:
    # Lazily, so that a kubeconfig that cannot be written still stops the cluster.
    yield f"sandbox cluster '{cluster.scenario}' serving at {cluster.url}"
    if kubeconfig:
        yield f"kubeconfig: {cluster.write_kubeconfig(Path(kubeconfig))}"
    # The API speaks TLS on the same port, since kubectl sends a token only over https.
    yield f"Kubernetes API (TLS): {cluster.api_url}"
