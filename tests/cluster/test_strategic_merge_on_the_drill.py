"""Strategic merge patches land the same on the drill server as on kube-apiserver.

The same raw patches go to the deployment on both servers, one after another, and the lists they
touch must come out equal, in the same order: new items of a merged list go before the server's
own unless `$setElementOrder/<field>` orders them, `$patch: delete` and `$patch: replace` act on
the list, and lists without a merge strategy are replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.drills.kubernetes import Sandbox
from tests.support.mirror import cleanup, mirror
from tests.support.real_cluster import Cluster, differences

SCENARIO = "oom-bad-deploy"
APP = "ecap-api"
STRATEGIC = "application/strategic-merge-patch+json"


def _container(**fields: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": APP, **fields}]}}}}


# Each patch applies on top of the ones before it, on both servers.
PATCHES: list[tuple[str, dict[str, Any]]] = [
    ("a new env item", _container(env=[{"name": "NEW_ONE", "value": "1"}])),
    (
        "an existing item changed and a new one",
        _container(
            env=[{"name": "ECAP_DB_USER", "value": "ecap2"}, {"name": "NEW_TWO", "value": "2"}]
        ),
    ),
    (
        "$setElementOrder puts a new item in the middle",
        _container(
            **{
                "$setElementOrder/env": [
                    {"name": "ECAP_DB_HOST"},
                    {"name": "NEW_THREE"},
                    {"name": "ECAP_DB_USER"},
                    {"name": "ECAP_DB_PASSWORD"},
                    {"name": "ECAP_REDIS_HOST"},
                    {"name": "ECAP_API_KEY"},
                    {"name": "NEW_ONE"},
                    {"name": "NEW_TWO"},
                ],
                "env": [{"name": "NEW_THREE", "value": "3"}],
            }
        ),
    ),
    (
        "$setElementOrder alone reorders",
        _container(
            **{
                "$setElementOrder/env": [
                    {"name": "NEW_TWO"},
                    {"name": "NEW_ONE"},
                    {"name": "NEW_THREE"},
                    {"name": "ECAP_DB_HOST"},
                    {"name": "ECAP_DB_USER"},
                    {"name": "ECAP_DB_PASSWORD"},
                    {"name": "ECAP_REDIS_HOST"},
                    {"name": "ECAP_API_KEY"},
                ]
            }
        ),
    ),
    ("$patch: delete removes one item", _container(env=[{"name": "NEW_ONE", "$patch": "delete"}])),
    (
        "a container's ports merge by containerPort",
        _container(ports=[{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]),
    ),
    (
        "a new container goes before the existing one",
        {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "s:1"}]}}}},
    ),
    (
        "$patch: replace replaces the list",
        _container(env=[{"name": "ONLY", "value": "x"}, {"$patch": "replace"}]),
    ),
    ("a list without a merge strategy is replaced", _container(args=["--one", "--two"])),
]


@dataclass
class Pair:
    drill: Cluster
    real: Cluster
    namespace: str


@pytest.fixture(scope="module")
def pair(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    sandbox = Sandbox.start(SCENARIO, ready_delay=0.0)
    drill = Cluster(sandbox.write_kubeconfig(Path(tmp_path_factory.mktemp("merge")) / "kc"))
    namespace = cluster.new_namespace("merge")
    try:
        mirror(drill, cluster, namespace)
        yield Pair(drill, cluster, namespace)
    finally:
        cleanup(drill, cluster)
        cluster.delete_namespace(namespace)
        sandbox.stop()


def _containers(cluster: Cluster, namespace: str, patch: dict[str, Any]) -> list[Any]:
    patched = cluster.read(
        cluster.apps.patch_namespaced_deployment,
        APP,
        namespace,
        patch,
        _content_type=STRATEGIC,
    )
    return [
        {k: c.get(k) for k in ("name", "image", "env", "ports", "args")}
        for c in patched["spec"]["template"]["spec"]["containers"]
    ]


def test_strategic_merge_patches_land_as_on_the_real_server(pair: Pair) -> None:
    for case, patch in PATCHES:
        drill = _containers(pair.drill, "default", patch)
        real = _containers(pair.real, pair.namespace, patch)
        assert drill == real, f"{case}:\n{differences(drill, real, ('real', 'drill'))}"
