"""Fixtures: a running sandbox and the real kubernetes client pointed at it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from bot.drills.kubernetes import Sandbox


class Kube:
    """The real kubernetes client, talking to one sandbox, answering raw JSON."""

    def __init__(self, sandbox: Sandbox, kubeconfig: Path) -> None:
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=cfg
        )
        self.api = kubernetes.client.ApiClient(cfg)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.apps = kubernetes.client.AppsV1Api(self.api)
        self.net = kubernetes.client.NetworkingV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)

    def json(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        response = call(*args, _preload_content=False, **kwargs)
        return json.loads(response.data)

    def app_pods(self, selector: str = "app=ecap-api") -> list[dict[str, Any]]:
        pods = self.json(self.core.list_namespaced_pod, "default", label_selector=selector)
        return list(pods["items"])

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll until check() holds; generous timeout, since the test box is shared."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., tuple[Sandbox, Kube]]]:
    started: list[tuple[Sandbox, Kube]] = []

    def _start(scenario: str = "oom-bad-deploy", **kwargs: Any) -> tuple[Sandbox, Kube]:
        kwargs.setdefault("ready_delay", 0.2)
        sandbox = Sandbox.start(scenario, **kwargs)
        kube = Kube(sandbox, sandbox.write_kubeconfig(tmp_path / f"kubeconfig-{len(started)}"))
        started.append((sandbox, kube))
        return sandbox, kube

    yield _start
    for sandbox, kube in started:
        kube.close()
        sandbox.stop()


@pytest.fixture
def oom(start: Callable[..., tuple[Sandbox, Kube]]) -> tuple[Sandbox, Kube]:
    return start()
