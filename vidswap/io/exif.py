"""The EXIF orientation of a photo: the tag read from the file, and stored pixels turned by it.

A camera or phone that is held sideways stores its pixels as the sensor reads them and writes
how to show them in the EXIF orientation tag (values 1-8: four turns, each plain or mirrored).
FFmpeg 8 decoders turn the tag into a display matrix on the decoded frame, but PyAV exposes only
that matrix's angle (``VideoFrame.rotation``), which cannot tell the mirrored values 2, 4, 5 and 7
from turns (and ``VideoFrame.side_data`` raises on the EXIF side data it does not know); so the
tag is read here, from the TIFF structure of the EXIF block of JPEG (APP1), PNG (``eXIf``),
WebP (``EXIF``) and TIFF files (their first IFD).
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["ORIENTATION_TAG", "exif_orientation", "orient"]

#: The EXIF (TIFF) tag number of the orientation.
ORIENTATION_TAG = 0x0112
_EXIF_HEADER = b"Exif\x00\x00"
_SHORT = 3  # the TIFF field type of the orientation


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of an image file's ``data``; 1 (as stored) for a file with none, a
    value out of range, a malformed EXIF block or a file type that holds no EXIF."""
    try:
        if data[:2] == b"\xff\xd8":
            tiff = _jpeg_exif(data)
        elif data[:8] == b"\x89PNG\r\n\x1a\n":
            tiff = _png_exif(data)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            tiff = _webp_exif(data)
        else:
            tiff = data
        value = _tiff_orientation(tiff) if tiff is not None else 1
    except struct.error:  # a block cut short
        return 1
    return value if 1 <= value <= 8 else 1


def orient(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Stored ``(H, W, ...)`` pixels turned as EXIF ``orientation`` says to show them (1: as stored;
    5-8 swap height and width)."""
    turned = {
        1: rgb,
        2: rgb[:, ::-1],  # mirrored left to right
        3: rgb[::-1, ::-1],  # upside down
        4: rgb[::-1],  # mirrored top to bottom
        5: rgb.swapaxes(0, 1),  # mirrored along the main diagonal
        6: np.rot90(rgb, -1),  # stored turned a quarter anticlockwise: turn it clockwise
        7: rgb[::-1, ::-1].swapaxes(0, 1),  # mirrored along the other diagonal
        8: np.rot90(rgb, 1),
    }[orientation]
    return rgb if orientation == 1 else np.ascontiguousarray(turned)


def _tiff_orientation(tiff: bytes) -> int:
    """The orientation entry of the first IFD of a TIFF structure (1 without one)."""
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(tiff[:4])
    if order is None:
        return 1
    (ifd,) = struct.unpack_from(order + "I", tiff, 4)
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind, _, value = struct.unpack_from(order + "HHIH", tiff, entry)
        if tag == ORIENTATION_TAG:
            return value if kind == _SHORT else 1
    return 1


def _jpeg_exif(data: bytes) -> bytes | None:
    """The TIFF structure of a JPEG's EXIF APP1 segment (the segments before the image data)."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan, end of image: no EXIF before the pixels
            return None
        (length,) = struct.unpack_from(">H", data, at + 2)
        segment = data[at + 4:at + 2 + length]
        if marker == 0xE1 and segment.startswith(_EXIF_HEADER):
            return segment[len(_EXIF_HEADER):]
        at += 2 + length
    return None


def _png_exif(data: bytes) -> bytes | None:
    """The ``eXIf`` chunk of a PNG."""
    at = 8
    while at + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        if kind == b"eXIf":
            return data[at + 8:at + 8 + length]
        if kind == b"IEND":
            return None
        at += 12 + length  # length, type, data, CRC
    return None


def _webp_exif(data: bytes) -> bytes | None:
    """The ``EXIF`` chunk of a WebP (some writers start it with the JPEG APP1 header)."""
    at = 12
    while at + 8 <= len(data):
        kind, size = struct.unpack_from("<4sI", data, at)
        if kind == b"EXIF":
            chunk = data[at + 8:at + 8 + size]
            return chunk[len(_EXIF_HEADER):] if chunk.startswith(_EXIF_HEADER) else chunk
        at += 8 + size + (size & 1)  # chunks are padded to an even size
    return None
