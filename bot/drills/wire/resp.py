"""A tiny RESP server: enough of Redis for a client's HELLO, PING, INFO, LASTSAVE and BGSAVE."""

from __future__ import annotations

import socket
import time

_INFO = {
    "replication": "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n",
    "memory": "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\n",
    "server": "# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n",
    "stats": "# Stats\r\ntotal_connections_received:5412\r\ntotal_commands_processed:1893301\r\n"
    "instantaneous_ops_per_sec:212\r\nkeyspace_hits:1702215\r\nkeyspace_misses:40112\r\n"
    "evicted_keys:0\r\n",
    "keyspace": "# Keyspace\r\ndb0:keys=1842,expires=1795,avg_ttl=2710000\r\n",
}
# A snapshot an hour old; a BGSAVE (instant on the stand-in's tiny data) moves it to now.
_saved = [time.time() - 3600.0]


def _persistence() -> str:
    return (
        "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\n"
        f"rdb_bgsave_in_progress:0\r\nrdb_last_save_time:{int(_saved[0])}\r\n"
        "rdb_last_bgsave_status:ok\r\n"
    )


def _read_command(stream: socket.SocketIO) -> list[str] | None:
    """One RESP array (or inline) command; None at end of stream."""
    line = stream.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.decode(errors="replace").split()
    words = []
    for _ in range(int(line[1:])):
        size = int(stream.readline()[1:])
        words.append(stream.read(size + 2)[:size].decode(errors="replace"))
    return words


def _bulk(text: str) -> bytes:
    data = text.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def _hello(words: list[str]) -> bytes:
    """HELLO answers a map in RESP3 (redis-py's default) and an array in RESP2."""
    proto = 3 if words[1:2] == ["3"] else 2
    fields: list[tuple[str, str | int]] = [("server", "redis"), ("version", "7.2.4"),
        ("proto", proto), ("id", 1), ("mode", "standalone"), ("role", "master")]  # fmt: skip
    body = b"".join(
        _bulk(k) + (b":%d\r\n" % v if isinstance(v, int) else _bulk(v)) for k, v in fields
    )
    body += _bulk("modules") + b"*0\r\n"
    head = b"%%%d\r\n" % (len(fields) + 1) if proto == 3 else b"*%d\r\n" % (2 * len(fields) + 2)
    return head + body


def _redis_reply(words: list[str]) -> bytes:
    command = words[0].upper() if words else ""
    if command == "HELLO":
        return _hello(words)
    if command == "PING":
        return b"+PONG\r\n"
    if command == "INFO":
        sections = {**_INFO, "persistence": _persistence()}
        wanted = [w.lower() for w in words[1:]] or list(sections)
        return _bulk("\r\n".join(sections[s] for s in wanted if s in sections))
    if command == "LASTSAVE":
        return b":%d\r\n" % int(_saved[0])
    if command == "BGSAVE":
        _saved[0] = time.time()
        return b"+Background saving started\r\n"
    return b"+OK\r\n"


def serve_redis(conn: socket.socket) -> None:
    with conn, conn.makefile("rwb") as stream:
        while (words := _read_command(stream)) is not None:  # type: ignore[arg-type]
            stream.write(_redis_reply(words))
            stream.flush()
