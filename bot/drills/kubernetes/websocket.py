"""The server side of a WebSocket (RFC 6455), just enough for `kubectl exec`'s channels."""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Protocol

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The channel protocols the API server speaks; v4 is the newest whose framing we implement.
PROTOCOLS = ("v4.channel.k8s.io", "channel.k8s.io")
BINARY, CLOSE = 0x2, 0x8
STDOUT, STDERR, ERROR = 1, 2, 3


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    digest = hashlib.sha1((key.strip() + _GUID).encode()).digest()
    return base64.b64encode(digest).decode()


def chosen_protocol(offered: str) -> str | None:
    """The first protocol we speak among those the client offered, in our order."""
    names = {p.strip() for p in offered.split(",")}
    return next((p for p in PROTOCOLS if p in names), None)


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame, as a server sends it."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 1 << 16:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


def channel_frame(channel: int, data: bytes) -> bytes:
    return frame(BINARY, bytes([channel]) + data)


def close_frame(code: int = 1000) -> bytes:
    return frame(CLOSE, struct.pack("!H", code))


def read_frame(stream: _Readable) -> tuple[int, bytes] | None:
    """(opcode, unmasked payload) of the next client frame; None at end of stream."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", stream.read(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", stream.read(8))[0]
    mask = stream.read(4) if head[1] & 0x80 else b""
    payload = stream.read(size)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload
