"""Fixtures: an engine over the real playbooks and templates, a sandbox cluster and a real store."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from bot.app import build_executors
from bot.config import Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.store import RedisStore, SqliteStore, Store
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]

MakeEngine = Callable[..., Engine]
OpenStore = Callable[[], Store]


class Kube:
    """The plain kubernetes client on one sandbox, answering raw JSON, to see what changed."""

    def __init__(self, kubeconfig: str) -> None:
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=cfg
        )
        self.api = kubernetes.client.ApiClient(cfg)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.apps = kubernetes.client.AppsV1Api(self.api)

    def _json(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return json.loads(call(*args, _preload_content=False, **kwargs).data)

    def deployment(self, name: str = "ecap-api") -> dict[str, Any]:
        found: dict[str, Any] = self._json(self.apps.read_namespaced_deployment, name, "default")
        return found

    def service(self, name: str = "ecap-api") -> dict[str, Any]:
        found: dict[str, Any] = self._json(self.core.read_namespaced_service, name, "default")
        return found

    def replicaset_names(self, selector: str = "app=ecap-api") -> list[str]:
        found = self._json(
            self.apps.list_namespaced_replica_set, "default", label_selector=selector
        )
        return sorted(item["metadata"]["name"] for item in found["items"])

    def set_image(self, image: str, name: str = "ecap-api") -> None:
        """Change the image outside the bot, as a responder with kubectl would."""
        body = {"spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}
        self.apps.patch_namespaced_deployment(name, "default", body)

    def revision(self, name: str = "ecap-api") -> int:
        annotations = self.deployment(name)["metadata"].get("annotations") or {}
        return int(annotations.get("deployment.kubernetes.io/revision", 0))

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def kube(kubeconfig: str) -> Iterator[Kube]:
    client = Kube(kubeconfig)
    yield client
    client.close()


@pytest.fixture
def lead() -> Actor:
    return Actor(id="U-LEAD", name="lead")


@pytest.fixture
def second() -> Actor:
    return Actor(id="U-SECOND", name="second")


@pytest.fixture
def outsider() -> Actor:
    return Actor(id="U-OUTSIDER", name="outsider")


@pytest.fixture
def config(sandbox: Sandbox, lead: Actor, second: Actor) -> Config:
    binding = ServiceBinding.model_validate(sandbox.binding())
    return Config(
        services={sandbox.service_name: binding}, approvers=[lead.id, second.id, "S-ONCALL"]
    )


@pytest.fixture(scope="session")
def templates() -> TemplateRenderer:
    return TemplateRenderer(REPO / "templates")


@pytest.fixture(scope="session")
def playbooks(templates: TemplateRenderer) -> dict[str, Playbook]:
    return load_playbooks(REPO / "playbooks", templates)


@pytest.fixture
def store_kind() -> str:
    """sqlite or redis; tests override it with `pytest.mark.parametrize("store_kind", ...)`."""
    return "sqlite"


@pytest.fixture
async def open_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[OpenStore]:
    """Opens independent stores on the same data, like separate bot processes."""
    redis_url: str | None = request.getfixturevalue("redis_url") if store_kind == "redis" else None
    prefix = f"test-engine-{uuid.uuid4().hex}:"
    opened: list[Store] = []

    def open_one() -> Store:
        store: Store = (
            RedisStore(redis_url, prefix)
            if redis_url
            else SqliteStore(tmp_path / "state" / "incidents.db")
        )
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
async def make_engine(
    playbooks: dict[str, Playbook],
    config: Config,
    templates: TemplateRenderer,
    kubeconfig: str,
    open_store: OpenStore,
) -> AsyncIterator[MakeEngine]:
    """Builds engines; each gets its own store instance and executors unless given them."""
    registries: list[ExecutorRegistry] = []

    def make(
        *,
        store: Store | None = None,
        config: Config = config,
        kubeconfig: str = kubeconfig,
        **options: Any,
    ) -> Engine:
        executors = build_executors(kubeconfig)
        registries.append(executors)
        return Engine(playbooks, config, store or open_store(), executors, templates, **options)

    yield make
    for executors in registries:
        await executors.close()


@pytest.fixture
def engine(make_engine: MakeEngine) -> Engine:
    return make_engine()
