"""Just enough of the PostgreSQL protocol (v3) for the bot's checks to be answered.

The simple and the extended query protocol, text or binary results; what each query answers
is `pgcatalog`'s. A query it does not know gets an error, as from a database that refuses it.
"""

from __future__ import annotations

import socket
import struct

from bot.drills.wire.pgcatalog import FLOAT8, INT4, INT8, PARAMETERS, Table, answer

_SSL_REQUEST, _GSS_REQUEST, _PROTOCOL_3 = 80877103, 80877104, 196608
_BINARY = {INT4: ">i", INT8: ">q", FLOAT8: ">d"}
_SIZES = {INT4: 4, INT8: 8, FLOAT8: 8}


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


def _row_description(table: Table | None, binary: bool = False) -> bytes:
    if table is None:
        return _message(b"n")
    fields = b"".join(
        _cstr(name) + struct.pack(">IhIhih", 0, 0, oid, _SIZES.get(oid, -1), -1, int(binary))
        for name, oid in table.columns
    )
    return _message(b"T", struct.pack(">h", len(table.columns)) + fields)


def _cell(value: str | None, oid: int, binary: bool) -> bytes:
    if value is None:
        return struct.pack(">i", -1)
    if binary and oid in _BINARY:
        number = float(value) if oid == FLOAT8 else int(value)
        data = struct.pack(_BINARY[oid], number)
    else:
        data = value.encode()
    return struct.pack(">i", len(data)) + data


def _data_rows(table: Table, binary: bool) -> bytes:
    oids = [oid for _, oid in table.columns]
    return b"".join(
        _message(
            b"D",
            struct.pack(">h", len(row))
            + b"".join(_cell(v, o, binary) for v, o in zip(row, oids, strict=True)),
        )
        for row in table.rows
    )


def _parameters(table: Table | None) -> bytes:
    types = table.params if table else ()
    return _message(b"t", struct.pack(f">h{len(types)}I", len(types), *types))


def _refusal(query: str) -> bytes:
    return _error(
        f"the sandbox database answers only readiness checks and the bot's diagnostics, "
        f"not {query!r}"
    )


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
        greeting += b"".join(_message(b"S", _cstr(k) + _cstr(v)) for k, v in PARAMETERS.items())
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
        # Prepared statements and bound portals by name, with the binary flag of each portal.
        statements: dict[bytes, Table | None] = {}
        portals: dict[bytes, tuple[Table | None, bool]] = {}
        failed = False
        while (head := _read_exactly(conn, 5)) is not None:
            kind, length = head[:1], struct.unpack(">I", head[1:])[0]
            body = _read_exactly(conn, length - 4) or b""
            if kind == b"X":
                return
            reply = b""
            if kind == b"Q":
                query = body.rstrip(b"\0").decode(errors="replace")
                found = answer(query, database)
                if found is None:
                    reply = _refusal(query)
                else:
                    reply = _row_description(found) + _data_rows(found, False)
                    reply += _message(b"C", _cstr(found.tag))
                reply += _ready()
            elif kind == b"S":
                # Sync ends an extended-protocol batch, and an error's skipping with it.
                reply, failed = _ready(), False
            elif failed:
                continue
            elif kind == b"P":
                name, statement = body.split(b"\0")[:2]
                table = answer(statement.decode(errors="replace"), database)
                statements[name] = table
                failed = table is None
                reply = _refusal(statement.decode(errors="replace")) if failed else _message(b"1")
            elif kind == b"D":
                name = body[1:].rstrip(b"\0")
                if body[:1] == b"S":
                    table = statements.get(name)
                    reply = _parameters(table) + _row_description(table)
                else:
                    table, binary = portals.get(name, (None, False))
                    reply = _row_description(table, binary)
            elif kind == b"B":
                portal, statement = body.split(b"\0")[:2]
                portals[portal] = (statements.get(statement), _binary_results(body))
                reply = _message(b"2")
            elif kind == b"E":
                table, binary = portals.get(body.split(b"\0")[0], (None, False))
                if table is not None:
                    reply = _data_rows(table, binary) + _message(b"C", _cstr(table.tag))
            elif kind == b"C":
                reply = _message(b"3")
            if reply:
                conn.sendall(reply)
