"""Shared store in Redis, for several bot replicas; writes are atomic Lua scripts.

Every script touches one hash slot and is given all its keys, so the same store runs on one
server, behind Sentinel and on a Cluster: an incident's record and its claims share the slot of
`{INCIDENT-ID}`, and the id indexes share the slot of `{index}`. An id is added to an index
before its record is written there, so an index may name too much (a record, read, is the
truth) but never too little.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio.cluster import PipelineCommand, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from bot.errors import ConflictError, NotFound, StoreError
from bot.redact import redact
from bot.store.base import Record
from bot.store.redis_connection import connect, parse

DEFAULT_PREFIX = "runbook-bot:"
# Below the store's 1 s deadline, so a missing replica is told as such, not as a silent store.
_WAIT_MS = 500
# How long the count of the primary's connected replicas is trusted before it is asked again.
_RECOUNT_S = 1.0
# A replica acknowledges its offset every second; one silent for longer is not in step.
_LAGGING_S = 2

# KEYS: record; ARGV: status, version, body.
_INSERT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'version', ARGV[2], 'body', ARGV[3])
return 1
"""

# KEYS: all-ids index, the status's index; ARGV: id.
_INDEX = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# KEYS: record; ARGV: expected version, new status, body, '1' once the id is in the new
# status's index. Returns {new version, old status}, {-1} when absent, {-2} when the version
# moved on, {-3, old status} when the status changes and the index is not ready for it.
_REPLACE = """
local current = redis.call('HMGET', KEYS[1], 'version', 'status')
if not current[1] then return {-1} end
if current[1] ~= ARGV[1] then return {-2} end
if current[2] ~= ARGV[2] and ARGV[4] ~= '1' then return {-3, current[2]} end
local version = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'version', version, 'body', ARGV[3])
return {version, current[2]}
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
    """Store in Redis under a key prefix, so one Redis can serve several bots.

    With `replicas` set (the default behind Sentinel), a record write is acknowledged only once
    that many replicas have it, and every other replica connected to the primary (outside a
    Cluster): Sentinel picks the replica to promote by the offsets it last polled, which may be
    seconds old, so a write only one of two replicas has can be lost when the other is promoted.
    Replication is one ordered stream per primary, so this also confirms every earlier write of
    the process there, such as the claim a fix runs under.
    """

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        target = parse(url)
        self._prefix = prefix
        self._replicas = target.replicas
        self._redis = connect(target)
        # Replicas connected to the primary when last counted, and when (monotonic).
        self._connected = 0
        self._counted_at = -_RECOUNT_S
        self._insert = self._redis.register_script(_INSERT)
        self._index = self._redis.register_script(_INDEX)
        self._replace = self._redis.register_script(_REPLACE)
        self._release = self._redis.register_script(_RELEASE)
        self._renew = self._redis.register_script(_RENEW)

    def _record_key(self, id: str) -> str:
        return f"{self._prefix}record:{{{id}}}"

    def _index_key(self, status: str | None) -> str:
        return f"{self._prefix}{{index}}:" + ("ids" if status is None else f"status:{status}")

    def _claim_key(self, key: str) -> str:
        # `kind:SUBJECT:...`: the subject (an incident id) is the hash tag, so an incident's
        # claims live with its record.
        kind, colon, rest = key.partition(":")
        if not colon:
            return f"{self._prefix}claim:{{{key}}}"
        subject, colon, tail = rest.partition(":")
        return f"{self._prefix}claim:{kind}:{{{subject}}}{colon}{tail}"

    async def next_number(self) -> int:
        return int(await self._call(self._redis.incr(self._prefix + "counter")))

    async def insert(self, record: Record) -> None:
        await self._call(
            self._index(
                keys=[self._index_key(None), self._index_key(record.status)], args=[record.id]
            )
        )
        created = await self._confirmed(
            self._insert,
            [self._record_key(record.id)],
            [record.status, record.version, record.body],
            wrote=lambda reply: int(reply) == 1,
        )
        if int(created) != 1:
            raise ConflictError(f"{record.id} already exists")

    async def load(self, id: str) -> Record | None:
        fields = await self._call(self._redis.hgetall(self._record_key(id)))
        return _record(id, fields)

    async def replace(self, record: Record) -> Record:
        keys = [self._record_key(record.id)]
        args: list[str | int] = [record.version, record.status, record.body]
        reply = await self._confirmed(self._replace, keys, [*args, "0"], wrote=_replaced)
        if int(reply[0]) == -3:
            # The status changes: index the new one first, so no index ever misses the record.
            await self._call(
                self._index(
                    keys=[self._index_key(None), self._index_key(record.status)], args=[record.id]
                )
            )
            reply = await self._confirmed(self._replace, keys, [*args, "1"], wrote=_replaced)
        version = int(reply[0])
        if version == -1:
            raise NotFound(f"{record.id} does not exist")
        if version == -2:
            raise ConflictError(f"{record.id} was changed by someone else; reload and retry")
        old_status = str(reply[1])
        if old_status != record.status:
            # After the write, not atomically with it: sound while an incident's status only
            # moves forward (open, then resolved); a move back racing this could be dropped.
            await self._call(self._redis.srem(self._index_key(old_status), record.id))
        return Record(record.id, record.status, version, record.body)

    async def list(self, status: str | None = None) -> list[Record]:
        ids = sorted(await self._call(self._redis.smembers(self._index_key(status))))
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for id in ids:
                pipe.hgetall(self._record_key(id))
            rows = await self._call(pipe.execute())
        records = [_record(id, fields) for id, fields in zip(ids, rows, strict=True)]
        # An index names ids ahead of their records and keeps a moved status for a moment.
        return [r for r in records if r is not None and status in (None, r.status)]

    async def claim(self, key: str, owner: str, ttl_s: float | None = None) -> bool:
        ttl_ms = None if ttl_s is None else max(1, round(ttl_s * 1000))
        claimed = await self._call(self._redis.set(self._claim_key(key), owner, nx=True, px=ttl_ms))
        return bool(claimed)

    async def renew(self, key: str, owner: str, ttl_s: float) -> bool:
        ttl_ms = max(1, round(ttl_s * 1000))
        renewed = await self._call(self._renew(keys=[self._claim_key(key)], args=[owner, ttl_ms]))
        return int(renewed) == 1

    async def release(self, key: str, owner: str) -> None:
        await self._call(self._release(keys=[self._claim_key(key)], args=[owner]))

    async def ping(self) -> None:
        await self._call(self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()

    async def _confirmed(
        self,
        script: AsyncScript,
        keys: Sequence[str],
        args: Sequence[Any],
        *,
        wrote: Callable[[Any], bool],
    ) -> Any:
        """Run a writing script; with replicas required, WAIT for them on the same connection."""
        if not self._replicas:
            return await self._call(script(keys=keys, args=args))
        for _ in range(2):
            needed = await self._replicas_to_wait_for()
            try:
                reply, confirmed = await self._call(
                    self._write_and_wait(script, keys, args, needed)
                )
            except StoreError:
                self._counted_at = -_RECOUNT_S
                raise
            if isinstance(reply, NoScriptError):
                # A promoted replica or a restarted server has not seen the script yet.
                await self._call(self._redis.script_load(script.script))
                continue
            if isinstance(reply, Exception):
                raise _failure(reply)
            if wrote(reply) and (isinstance(confirmed, Exception) or confirmed < needed):
                # Count again: a replica may have gone (or the primary changed) since.
                self._counted_at = -_RECOUNT_S
                raise StoreError(
                    f"redis store: saved on the primary, but not confirmed by {needed} "
                    f"replica(s) within {_WAIT_MS} ms; it may be lost if the primary fails, "
                    "so it is not acted on"
                )
            return reply
        raise StoreError("redis store: the server keeps forgetting the bot's scripts")

    async def _replicas_to_wait_for(self) -> int:
        """`replicas`, or every replica in step with the primary if there are more (counted
        from INFO replication at most once a second; a Cluster's primaries are not counted)."""
        now = time.monotonic()
        if isinstance(self._redis, RedisCluster) or now - self._counted_at < _RECOUNT_S:
            return max(self._replicas, self._connected)
        info = await self._call(self._redis.info("replication"))
        self._connected = sum(
            1
            for name, replica in info.items()
            if name.startswith("slave")
            and isinstance(replica, dict)
            and replica.get("state") == "online"
            # A replica that has not acknowledged for longer (frozen, cut off) would hold
            # every write up until the primary drops it; it is not counted.
            and int(replica.get("lag", _LAGGING_S + 1)) <= _LAGGING_S
        )
        self._counted_at = now
        return max(self._replicas, self._connected)

    async def _write_and_wait(
        self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any], needed: int
    ) -> tuple[Any, Any]:
        """The script's reply and WAIT's, or the errors in their place; one connection for both,
        since WAIT counts only the writes of the connection it is sent on."""
        wait = ("WAIT", needed, _WAIT_MS)
        evalsha = ("EVALSHA", script.sha, len(keys), *keys, *args)
        if isinstance(self._redis, RedisCluster):
            # The cluster client routes a keyless WAIT anywhere: send both to the key's primary.
            await self._redis.initialize()
            node = self._redis.get_node_from_key(keys[0])
            if node is None:
                raise StoreError(f"redis store: no cluster node serves {keys[0]}")
            commands = [PipelineCommand(0, *evalsha), PipelineCommand(1, *wait)]
            await node.execute_pipeline(commands)
            return commands[0].result, commands[1].result
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.execute_command(*evalsha)
            pipe.execute_command(*wait)
            reply, confirmed = await pipe.execute(raise_on_error=False)
        return reply, confirmed

    async def _call(self, pending: Any) -> Any:
        try:
            return await pending
        except (RedisError, OSError) as exc:
            raise _failure(exc) from None


def _failure(exc: Exception) -> StoreError:
    """One line, without the password, whatever redis-py said."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return StoreError(redact(f"redis store: {detail}"))


def _replaced(reply: Any) -> bool:
    return int(reply[0]) > 0


def _record(id: str, fields: dict[str, str]) -> Record | None:
    if not fields:
        return None
    return Record(id, fields["status"], int(fields["version"]), fields["body"])
