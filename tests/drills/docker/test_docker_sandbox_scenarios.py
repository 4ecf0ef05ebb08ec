"""Scenario behaviour: what restarts, starts and memory updates do to each container."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest
import redis

from bot.config import ServiceBinding
from bot.drills.docker import list_scenarios, load_scenario
from bot.drills.kubernetes import list_scenarios as kubernetes_scenarios
from tests.drills.docker.conftest import Engine, wait_until


def _health(engine: Engine) -> httpx.Response | None:
    """The health endpoint's answer once it has one; None while the port refuses."""
    result: list[httpx.Response] = []

    def answered() -> bool:
        try:
            result.append(httpx.get(engine.sandbox.health_url))
        except httpx.TransportError:
            return False
        return True

    return result[-1] if wait_until(answered, timeout=5) else None


def _refused(port: int) -> bool:
    def closed() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) != 0

    return wait_until(closed)


def test_every_scenario_loads_and_names_the_playbook_it_drills() -> None:
    found = list_scenarios()
    drills = {
        "conduit-oom-killed": "api-down-docker-k8s",
        "container-crashed": "api-down-compose",
        "container-db-down": "api-down-compose",
        "container-oom": "api-down-compose",
    }
    assert [name for name, _, _ in found] == list(drills)
    for name, playbook, description in found:
        scenario = load_scenario(name)
        assert scenario.playbook == playbook == drills[name]
        assert description == scenario.description
        assert scenario.app in scenario.containers
    # `drill --scenario NAME` picks the sandbox by name: names must not collide.
    assert not {n for n, _, _ in found} & {n for n, _ in kubernetes_scenarios()}


def test_an_unknown_scenario_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown Docker scenario 'nope'.*container-crashed"):
        load_scenario("nope")
    with pytest.raises(ValueError, match="unknown Docker scenario '_base'"):
        load_scenario("_base")


def test_the_binding_is_a_docker_service_binding(engine: Engine) -> None:
    binding = ServiceBinding.model_validate(engine.sandbox.binding()).with_defaults(
        engine.sandbox.service_name
    )
    assert binding.platform == "docker"
    assert (binding.container, binding.compose_project, binding.compose_service) == (
        "api-server",
        "structured-prompt",
        "api",
    )
    assert binding.health_url == engine.sandbox.health_url
    assert binding.health_url.endswith("/v1/health")
    assert binding.dependencies["postgres"].container == "postgres"
    postgres = binding.dependencies["postgres"]
    assert postgres.port == engine.sandbox.port_of("postgres")
    assert postgres.url == (
        f"postgresql://structured_prompt:dk-pgpass-K5d9sL1c@127.0.0.1:{postgres.port}"
        "/structured_prompt_db"
    )
    assert binding.dependencies["redis"].container == "redis"
    assert "dk-pass-W8q3zV6n" in engine.sandbox.secret_values()


def test_a_stopped_dependency_closes_its_port_and_the_health_says_so(engine: Engine) -> None:
    url = engine.sandbox.binding()["dependencies"]["redis"]["url"]  # type: ignore[index]
    cache = redis.Redis.from_url(str(url), socket_timeout=5)
    assert cache.ping() is True
    cache.close()
    engine.client.containers.get("api-server").start()
    engine.clock.advance(1)
    engine.client.containers.get("redis").stop()
    assert _refused(engine.sandbox.port_of("redis"))
    health = _health(engine)
    assert health is not None and health.status_code == 503
    assert health.json()["dependencies"] == {"postgres": "up", "redis": "down"}


def test_oom_a_plain_restart_is_killed_again_once_memory_reaches_the_limit(
    engines: Callable[[str], Engine],
) -> None:
    engine = engines("container-oom")
    api = engine.client.containers.get("api-server")
    state = api.attrs["State"]
    assert (state["Status"], state["OOMKilled"], state["ExitCode"]) == ("exited", True, 137)
    assert "Killed" in api.logs(tail=1).decode()

    api.restart()
    engine.clock.advance(25)
    api.reload()
    assert api.status == "running"
    memory = api.stats(stream=False)["memory_stats"]
    assert memory["usage"] / memory["limit"] > 0.9
    health = _health(engine)
    assert health is not None and health.status_code == 200

    engine.clock.advance(10)
    api.reload()
    state = api.attrs["State"]
    assert (state["Status"], state["OOMKilled"], state["ExitCode"]) == ("exited", True, 137)
    assert api.logs(tail=2).decode().splitlines() == ["MemoryError", "Killed"]
    assert _refused(engine.sandbox.port_of("api-server"))


def test_oom_more_memory_then_a_restart_cures_it(engines: Callable[[str], Engine]) -> None:
    engine = engines("container-oom")
    api = engine.client.containers.get("api-server")
    api.update(mem_limit="4g", memswap_limit="8g")
    api.reload()
    assert api.status == "exited"  # the limit alone does not start it
    api.restart()
    engine.clock.advance(3600)
    api.reload()
    assert (api.status, api.attrs["State"]["OOMKilled"]) == ("running", False)
    memory = api.stats(stream=False)["memory_stats"]
    assert memory["usage"] / memory["limit"] < 0.5
    health = _health(engine)
    assert health is not None and health.status_code == 200


def test_database_down_needs_postgres_started_then_the_api_restarted(
    engines: Callable[[str], Engine],
) -> None:
    engine = engines("container-db-down")
    engine.clock.advance(1)
    health = _health(engine)
    assert health is not None and health.status_code == 503
    assert health.json()["dependencies"]["postgres"] == "down"
    postgres = engine.client.containers.get("postgres")
    assert postgres.status == "exited"
    assert "No space left on device" in postgres.logs().decode()

    postgres.start()
    engine.clock.advance(1)
    # The API keeps its dead connection pool until it is restarted.
    still = _health(engine)
    assert still is not None and still.json()["dependencies"]["postgres"] == "down"

    engine.client.containers.get("api-server").restart()
    engine.clock.advance(1)
    cured = _health(engine)
    assert cured is not None and cured.status_code == 200
    assert cured.json()["dependencies"] == {"postgres": "up", "redis": "up"}


def test_probe_paths_answer_only_where_the_app_serves_them(
    engines: Callable[[str], Engine],
) -> None:
    conduit = engines("conduit-oom-killed")
    binding = ServiceBinding.model_validate(conduit.sandbox.binding())
    assert binding.ready_url == f"{binding.health_url}/ready"
    assert binding.live_url == f"{binding.health_url}/live"
    conduit.api.start("conduit-api")
    conduit.clock.advance(1)
    assert _health(conduit) is not None
    ready = httpx.get(str(binding.ready_url))
    assert ready.status_code == 200 and ready.json()["status"] == "healthy"
    assert httpx.get(str(binding.live_url)).json() == {"status": "Healthy"}
    assert httpx.get(f"{binding.health_url}/other").status_code == 404

    # An app without the probes has neither the URLs nor the paths.
    plain = engines("container-crashed")
    bound = ServiceBinding.model_validate(plain.sandbox.binding())
    assert bound.ready_url is None and bound.live_url is None
    plain.api.start("api-server")
    plain.clock.advance(1)
    assert _health(plain) is not None
    assert httpx.get(f"{bound.health_url}/ready").status_code == 404
