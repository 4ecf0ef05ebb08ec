"""Shared store in Redis, for several bot replicas; writes are atomic Lua scripts."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.errors import ConflictError, NotFound, StoreError
from bot.redact import redact, register_secret
from bot.store.base import Record

DEFAULT_PREFIX = "runbook-bot:"
# Short, so an unreachable Redis is reported at once instead of hanging a Slack request.
_CONNECT_TIMEOUT_S = 3.0
_SOCKET_TIMEOUT_S = 5.0

# KEYS: record, all-ids set, status index prefix; ARGV: id, status, version, body.
_INSERT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'version', ARGV[3], 'body', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3] .. ARGV[2], ARGV[1])
return 1
"""

# KEYS: record, status index prefix; ARGV: id, expected version, new status, body.
# Returns the new version, -1 when absent, -2 when the version moved on.
_REPLACE = """
local current = redis.call('HMGET', KEYS[1], 'version', 'status')
if not current[1] then return -1 end
if current[1] ~= ARGV[2] then return -2 end
local version = tonumber(ARGV[2]) + 1
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'version', version, 'body', ARGV[4])
if current[2] ~= ARGV[3] then
    redis.call('SREM', KEYS[2] .. current[2], ARGV[1])
    redis.call('SADD', KEYS[2] .. ARGV[3], ARGV[1])
end
return version
"""

# KEYS: claim; ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: claim; ARGV: owner, ttl in milliseconds.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisStore:
    """Store in Redis under a key prefix, so one Redis can serve several bots."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        password = urlsplit(url).password
        if password:
            register_secret(unquote(password))
        self._prefix = prefix
        # No retries: a retried INCR or script could apply twice; the caller sees one StoreError.
        self._redis: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=_CONNECT_TIMEOUT_S,
            socket_timeout=_SOCKET_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        self._insert = self._redis.register_script(_INSERT)
        self._replace = self._redis.register_script(_REPLACE)
        self._release = self._redis.register_script(_RELEASE)
        self._renew = self._redis.register_script(_RENEW)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def next_number(self) -> int:
        return int(await self._call(self._redis.incr(self._key("counter"))))

    async def insert(self, record: Record) -> None:
        created = await self._call(
            self._insert(
                keys=[self._key("record", record.id), self._key("ids"), self._key("status", "")],
                args=[record.id, record.status, record.version, record.body],
            )
        )
        if int(created) != 1:
            raise ConflictError(f"{record.id} already exists")

    async def load(self, id: str) -> Record | None:
        fields = await self._call(self._redis.hgetall(self._key("record", id)))
        return _record(id, fields)

    async def replace(self, record: Record) -> Record:
        version = int(
            await self._call(
                self._replace(
                    keys=[self._key("record", record.id), self._key("status", "")],
                    args=[record.id, record.version, record.status, record.body],
                )
            )
        )
        if version == -1:
            raise NotFound(f"{record.id} does not exist")
        if version == -2:
            raise ConflictError(f"{record.id} was changed by someone else; reload and retry")
        return Record(record.id, record.status, version, record.body)

    async def list(self, status: str | None = None) -> list[Record]:
        index = self._key("ids") if status is None else self._key("status", status)
        ids = sorted(await self._call(self._redis.smembers(index)))
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for id in ids:
                pipe.hgetall(self._key("record", id))
            rows = await self._call(pipe.execute())
        records = [_record(id, fields) for id, fields in zip(ids, rows, strict=True)]
        # A replace between reading the index and the records may move a status; trust the record.
        return [r for r in records if r is not None and status in (None, r.status)]

    async def claim(self, key: str, owner: str, ttl_s: float | None = None) -> bool:
        ttl_ms = None if ttl_s is None else max(1, round(ttl_s * 1000))
        claimed = await self._call(
            self._redis.set(self._key("claim", key), owner, nx=True, px=ttl_ms)
        )
        return bool(claimed)

    async def renew(self, key: str, owner: str, ttl_s: float) -> bool:
        ttl_ms = max(1, round(ttl_s * 1000))
        renewed = await self._call(
            self._renew(keys=[self._key("claim", key)], args=[owner, ttl_ms])
        )
        return int(renewed) == 1

    async def release(self, key: str, owner: str) -> None:
        await self._call(self._release(keys=[self._key("claim", key)], args=[owner]))

    async def ping(self) -> None:
        await self._call(self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, pending: Any) -> Any:
        try:
            return await pending
        except (RedisError, OSError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise StoreError(redact(f"redis store: {detail}")) from None


def _record(id: str, fields: dict[str, str]) -> Record | None:
    if not fields:
        return None
    return Record(id, fields["status"], int(fields["version"]), fields["body"])
