"""OpenEXR header attributes that FFmpeg's EXR encoder does not write: read them, and add them.

An EXR file is the magic and version (8 bytes), the header (attributes ``name\\0 type\\0 size
value``, ended by a null byte), the offset table (one uint64 file offset per chunk) and the
chunks. FFmpeg (8.1) writes neither ``timeCode`` nor ``framesPerSecond`` (nor the required
``pixelAspectRatio``), so :func:`with_attributes` inserts them before the header's end and
shifts every offset of the table by the bytes inserted. Single-part scanline files only (what
FFmpeg writes).
"""

from __future__ import annotations

import struct
from fractions import Fraction

from vidswap.errors import MediaError

__all__ = ["Attribute", "attributes", "with_attributes", "timecode_value", "rational_value", "float_value"]

_MAGIC = b"\x76\x2f\x31\x01"
#: Scanlines per chunk of each compression (its number in the ``compression`` attribute).
_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}

#: ``(type, value bytes)`` of one attribute.
Attribute = tuple[str, bytes]


def _header(data: bytes) -> tuple[dict[str, Attribute], int]:
    """The attributes of a header and the offset of its end (the null byte)."""
    if data[:4] != _MAGIC:
        raise MediaError("not an OpenEXR file (no magic number)")
    if data[5] & 0x1A:  # tiled, deep or multi-part
        raise MediaError("only single-part scanline OpenEXR files take attributes here")
    found: dict[str, Attribute] = {}
    at = 8
    while data[at] != 0:
        name_end = data.index(b"\0", at)
        type_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        start = type_end + 5
        found[data[at:name_end].decode()] = (data[name_end + 1:type_end].decode(), data[start:start + size])
        at = start + size
    return found, at


def attributes(data: bytes) -> dict[str, Attribute]:
    """The header attributes of an EXR file's bytes: name -> ``(type, value bytes)``."""
    return _header(data)[0]


def with_attributes(data: bytes, added: dict[str, Attribute]) -> bytes:
    """An EXR file's bytes with ``added`` attributes (those it has are left as they are), the
    offset table shifted past them."""
    found, end = _header(data)
    new = b"".join(name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value
                   for name, (kind, value) in added.items() if name not in found)
    if not new:
        return data
    x0, y0, x1, y1 = struct.unpack("<4i", found["dataWindow"][1])
    lines = _LINES_PER_CHUNK[found["compression"][1][0]]
    chunks = -(-(y1 - y0 + 1) // lines)
    table = struct.unpack_from(f"<{chunks}Q", data, end + 1)
    shifted = struct.pack(f"<{chunks}Q", *(offset + len(new) for offset in table))
    return data[:end] + new + data[end:end + 1] + shifted + data[end + 1 + 8 * chunks:]


def _bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def timecode_value(timecode: str) -> bytes:
    """The ``timecode`` attribute value of a SMPTE timecode (``01:00:00:00``; ``;`` drop-frame):
    SMPTE 12M time and flags, BCD, then no user data."""
    hours, minutes, seconds, frames = (int(part) for part in timecode.replace(";", ":").replace(".", ":").split(":"))
    packed = (_bcd(frames) | (0x40 if ";" in timecode or "." in timecode else 0) | _bcd(seconds) << 8
              | _bcd(minutes) << 16 | _bcd(hours) << 24)
    return struct.pack("<II", packed, 0)


def rational_value(rate: Fraction) -> bytes:
    """The ``rational`` attribute value of a rate (``framesPerSecond``)."""
    return struct.pack("<iI", rate.numerator, rate.denominator)


def float_value(value: float) -> bytes:
    """The ``float`` attribute value."""
    return struct.pack("<f", value)
