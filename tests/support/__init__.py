"""Real services the tests start on free ports and stop afterwards."""

from __future__ import annotations

from tests.support.redis_server import RedisServer, require_redis_server

__all__ = ["RedisServer", "require_redis_server"]
