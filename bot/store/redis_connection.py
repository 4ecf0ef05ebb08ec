"""How the store reaches Redis: one server, a primary found through Sentinel, or a Cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from bot.errors import ConfigError
from bot.redact import register_secret

# Short, so an unreachable Redis is reported at once instead of hanging a Slack request.
_CONNECT_TIMEOUT_S = 3.0
_SOCKET_TIMEOUT_S = 5.0
_DEFAULT_PORT = 6379
_SENTINEL_PORT = 26379
# The query parameters the bot reads itself; the rest of a redis:// URL goes to redis-py.
_OWN_PARAMS = ("replicas",)

Mode = Literal["single", "sentinel", "cluster"]


@dataclass(frozen=True)
class RedisTarget:
    """A parsed REDIS_URL: where Redis is, and how many replicas must confirm a record write."""

    mode: Mode
    url: str = ""
    hosts: list[tuple[str, int]] = field(default_factory=list)
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    tls: bool = False
    replicas: int = 0


def parse(url: str) -> RedisTarget:
    """Read redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis(s)+cluster://."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    for secret in (parts.password, query.get("sentinel_password")):
        if secret:
            register_secret(unquote(secret))
    replicas = _count(query.get("replicas"), "replicas")
    if scheme in ("redis", "rediss", "unix"):
        return RedisTarget("single", url=_without_own_params(url), replicas=replicas)
    base, _, mode = scheme.partition("+")
    if base not in ("redis", "rediss") or mode not in ("sentinel", "cluster"):
        raise ConfigError(
            f"REDIS_URL scheme '{parts.scheme}' is not one of redis, rediss, redis+sentinel, "
            "rediss+sentinel, redis+cluster, rediss+cluster"
        )
    hosts = _hosts(
        parts.netloc.rpartition("@")[2], _SENTINEL_PORT if mode == "sentinel" else _DEFAULT_PORT
    )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if mode == "cluster":
        # No default wait: a cluster without replicas is common, and would refuse every write.
        return RedisTarget(
            "cluster",
            hosts=hosts,
            username=username,
            password=password,
            tls=base == "rediss",
            replicas=replicas,
        )
    service = parts.path.strip("/")
    if not service:
        raise ConfigError("REDIS_URL: redis+sentinel:// needs the service name as its path")
    return RedisTarget(
        "sentinel",
        hosts=hosts,
        service=service,
        db=_count(query.get("db"), "db"),
        username=username,
        password=password,
        sentinel_password=query.get("sentinel_password"),
        tls=base == "rediss",
        # Sentinel exists to fail over to a replica, so a record write waits for one by default.
        replicas=1 if query.get("replicas") is None else replicas,
    )


def connect(target: RedisTarget) -> Redis | RedisCluster:
    """A client for the target; no retries, since a retried script or INCR could apply twice."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": _CONNECT_TIMEOUT_S,
        "socket_timeout": _SOCKET_TIMEOUT_S,
        "retry": Retry(NoBackoff(), 0),
    }
    if target.mode == "single":
        return Redis.from_url(target.url, **options)
    auth: dict[str, Any] = {"username": target.username, "password": target.password}
    if target.mode == "cluster":
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
            ssl=target.tls,
            **auth,
            **options,
        )
    sentinels = Sentinel(
        target.hosts,
        sentinel_kwargs={
            "password": target.sentinel_password,
            "ssl": target.tls,
            "socket_connect_timeout": _CONNECT_TIMEOUT_S,
            "socket_timeout": _SOCKET_TIMEOUT_S,
        },
        ssl=target.tls,
        **auth,
        **options,
    )
    master: Redis = sentinels.master_for(target.service, db=target.db)
    return master


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    hosts = []
    for item in netloc.split(","):
        host, colon, port = item.strip().rpartition(":")
        if not colon:
            host, port = port, str(default_port)
        if not host or not port.isdigit():
            raise ConfigError(f"REDIS_URL: '{item}' is not host:port")
        hosts.append((host, int(port)))
    return hosts


def _count(value: str | None, name: str) -> int:
    if value is None:
        return 0
    if not value.isdigit():
        raise ConfigError(f"REDIS_URL: {name}={value} is not a whole number")
    return int(value)


def _without_own_params(url: str) -> str:
    parts = urlsplit(url)
    kept = "&".join(
        pair for pair in parts.query.split("&") if pair and pair.split("=")[0] not in _OWN_PARAMS
    )
    return parts._replace(query=kept).geturl()
