"""REDIS_URL forms: one server, Sentinel and Cluster, and what each waits for on a write."""

from __future__ import annotations

import re

import pytest

from bot.errors import ConfigError
from bot.redact import redact
from bot.store.redis_connection import RedisTarget, parse


def test_a_plain_url_goes_to_redis_py_as_given_and_waits_for_no_replica() -> None:
    assert parse("redis://127.0.0.1:6379/2") == RedisTarget(
        "single", url="redis://127.0.0.1:6379/2"
    )
    assert (
        parse("rediss://h:6380/0?ssl_cert_reqs=none").url == "rediss://h:6380/0?ssl_cert_reqs=none"
    )


def test_replicas_on_a_plain_url_is_read_by_the_bot_and_not_passed_on() -> None:
    target = parse("redis://h:6379/0?replicas=1&health_check_interval=5")
    assert target.replicas == 1
    assert target.url == "redis://h:6379/0?health_check_interval=5"


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_db() -> None:
    target = parse("redis+sentinel://:s3cret-pass@a:26379,b:26380,c/mymaster?db=3")
    assert target.mode == "sentinel"
    assert target.hosts == [("a", 26379), ("b", 26380), ("c", 26379)]
    assert (target.service, target.db, target.password, target.tls) == (
        "mymaster",
        3,
        "s3cret-pass",
        False,
    )
    # Sentinel is there to fail over, so a record write waits for one replica unless told.
    assert target.replicas == 1
    assert parse("redis+sentinel://a:1/m?replicas=0").replicas == 0
    assert parse("rediss+sentinel://a:1/m?replicas=2").tls
    assert "s3cret-pass" not in redact("connecting with s3cret-pass")


def test_a_cluster_url_names_its_seed_nodes() -> None:
    target = parse("rediss+cluster://user:pw@n1:7000,n2:7001")
    assert target.mode == "cluster"
    assert target.hosts == [("n1", 7000), ("n2", 7001)]
    assert (target.username, target.password, target.tls, target.replicas) == (
        "user",
        "pw",
        True,
        0,
    )
    assert parse("redis+cluster://n1:7000?replicas=1").replicas == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("memcached://h:1", "is not one of"),
        ("redis+sentinel://a:1,b:2", "needs the service name"),
        ("redis+sentinel://a:port/m", "is not host:port"),
        ("redis://h:1/0?replicas=many", "is not a whole number"),
    ],
)
def test_a_wrong_url_is_refused_in_one_line(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(reason)) as raised:
        parse(url)
    assert "\n" not in str(raised.value)
