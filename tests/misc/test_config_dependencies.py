"""A dependency's cluster_host: the name the service's pods use, defaulting to the bot's."""

from __future__ import annotations

from bot.config import Dependency, ServiceBinding


def test_cluster_host_defaults_to_the_host_then_the_urls_host() -> None:
    assert Dependency(host="postgres.ecap.svc", port=5432).cluster_host == "postgres.ecap.svc"
    redis = Dependency(url="redis://:pw-9f@redis.ecap.svc:6379/0")
    assert redis.cluster_host == "redis.ecap.svc"
    assert Dependency(selector="app=kafka").cluster_host is None


def test_cluster_host_given_differs_from_the_bots_own_address() -> None:
    # The bot reaches the database through a port-forward; the pods by its Service's name.
    binding = ServiceBinding.model_validate(
        {
            "dependencies": {
                "postgres": {
                    "host": "127.0.0.1",
                    "port": 15432,
                    "cluster_host": "postgres.default.svc.cluster.local",
                }
            }
        }
    )
    assert binding.lookup("service.dependencies.postgres.host") == "127.0.0.1"
    assert (
        binding.lookup("service.dependencies.postgres.cluster_host")
        == "postgres.default.svc.cluster.local"
    )
