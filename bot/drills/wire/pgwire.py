"""Just enough of the PostgreSQL protocol (v3) for a readiness check to be answered.

The sandbox's postgres container has no database behind it; a readiness check connects and
asks `SELECT <integer>`, `SHOW <setting>` or `SELECT current_database()` (simple or extended
query protocol, text or binary results) and gets its one row. Anything else gets an error,
as from a database that refuses it.
"""

from __future__ import annotations

import re
import socket
import struct

_SSL_REQUEST, _GSS_REQUEST, _PROTOCOL_3 = 80877103, 80877104, 196608
_INT4_OID, _TEXT_OID = 23, 25
_SELECT_INT = re.compile(r"^\s*select\s+(-?\d{1,9})\s*;?\s*$", re.IGNORECASE)
_SHOW = re.compile(r"^\s*show\s+([a-z_]+)\s*;?\s*$", re.IGNORECASE)
_CURRENT_DATABASE = re.compile(r"^\s*select\s+current_database\(\)\s*;?\s*$", re.IGNORECASE)
# (column name, type oid, value as text): the one row a query the sandbox knows answers.
Row = tuple[str, int, str]
_PARAMETERS = {
    "server_version": "15.4",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "TimeZone": "UTC",
}


def _message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack(">I", len(body) + 4) + body


def _cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _ready() -> bytes:
    return _message(b"Z", b"I")


def _error(message: str) -> bytes:
    fields = b"SERROR\0" + b"C0A000\0" + b"M" + _cstr(message) + b"\0"
    return _message(b"E", fields)


def _row_description(row: Row | None, binary: bool = False) -> bytes:
    if row is None:
        return _message(b"n")
    name, oid, _ = row
    size = 4 if oid == _INT4_OID else -1
    field = _cstr(name) + struct.pack(">IhIhih", 0, 0, oid, size, -1, int(binary))
    return _message(b"T", struct.pack(">h", 1) + field)


def _data_row(row: Row, binary: bool) -> bytes:
    _, oid, text = row
    cell = struct.pack(">i", int(text)) if binary and oid == _INT4_OID else text.encode()
    return _message(b"D", struct.pack(">hi", 1, len(cell)) + cell)


def _answer(query: str, database: str) -> Row | None:
    if match := _SELECT_INT.match(query):
        return ("?column?", _INT4_OID, match.group(1))
    if (match := _SHOW.match(query)) and match.group(1) in _PARAMETERS:
        return (match.group(1), _TEXT_OID, _PARAMETERS[match.group(1)])
    if _CURRENT_DATABASE.match(query):
        return ("current_database", _TEXT_OID, database)
    return None


def _refusal(query: str) -> bytes:
    return _error(f"the sandbox database answers only readiness checks, not {query!r}")


def _startup(conn: socket.socket) -> str | None:
    """Refuse SSL/GSS, accept the startup message without a password; its database name.

    None when the client hangs up first.
    """
    while True:
        head = _read_exactly(conn, 8)
        if head is None:
            return None
        length, code = struct.unpack(">II", head)
        rest = _read_exactly(conn, length - 8) if length > 8 else b""
        if rest is None:
            return None
        if code in (_SSL_REQUEST, _GSS_REQUEST):
            conn.sendall(b"N")
            continue
        if code != _PROTOCOL_3:
            return None
        words = [w.decode(errors="replace") for w in rest.split(b"\0")]
        options = dict(zip(words[::2], words[1::2], strict=False))
        greeting = _message(b"R", struct.pack(">I", 0))
        greeting += b"".join(_message(b"S", _cstr(k) + _cstr(v)) for k, v in _PARAMETERS.items())
        greeting += _message(b"K", struct.pack(">II", 4242, 1)) + _ready()
        conn.sendall(greeting)
        return options.get("database") or options.get("user") or "postgres"


def _binary_results(bind: bytes) -> bool:
    """Whether a Bind message asks for binary result columns."""
    at = bind.index(b"\0") + 1
    at = bind.index(b"\0", at) + 1
    (formats,) = struct.unpack_from(">h", bind, at)
    at += 2 + 2 * formats
    (params,) = struct.unpack_from(">h", bind, at)
    at += 2
    for _ in range(params):
        (size,) = struct.unpack_from(">i", bind, at)
        at += 4 + max(size, 0)
    results, first = struct.unpack_from(">hh", bind + b"\0\0", at)
    return bool(results > 0 and first == 1)


def serve_postgres(conn: socket.socket) -> None:
    """One client connection: startup, then simple and extended queries until Terminate."""
    with conn:
        database = _startup(conn)
        if database is None:
            return
        row: Row | None = None
        binary, failed = False, False
        while (head := _read_exactly(conn, 5)) is not None:
            kind, length = head[:1], struct.unpack(">I", head[1:])[0]
            body = _read_exactly(conn, length - 4) or b""
            if kind == b"X":
                return
            reply = b""
            if kind == b"Q":
                query = body.rstrip(b"\0").decode(errors="replace")
                found = _answer(query, database)
                if found is None:
                    reply = _refusal(query)
                else:
                    reply = _row_description(found) + _data_row(found, False)
                    reply += _message(b"C", _cstr("SELECT 1"))
                reply += _ready()
            elif kind == b"S":
                # Sync ends an extended-protocol batch, and an error's skipping with it.
                reply, failed = _ready(), False
            elif failed:
                continue
            elif kind == b"P":
                statement = body.split(b"\0")[1].decode(errors="replace")
                row = _answer(statement, database)
                failed = row is None
                reply = _refusal(statement) if row is None else _message(b"1")
            elif kind == b"D":
                if body[:1] == b"S":
                    reply = _message(b"t", struct.pack(">h", 0))
                reply += _row_description(row, binary)
            elif kind == b"B":
                binary = _binary_results(body)
                reply = _message(b"2")
            elif kind == b"E" and row is not None:
                reply = _data_row(row, binary) + _message(b"C", _cstr("SELECT 1"))
            elif kind == b"C":
                reply = _message(b"3")
            if reply:
                conn.sendall(reply)
