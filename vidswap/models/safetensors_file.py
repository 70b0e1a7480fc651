"""The one reader of safetensors headers, checked before any tensor is touched (no torch needed).

A safetensors file is an 8-byte little-endian header length, a JSON header and the tensor
bytes. Every reader in vidswap (model files, imported state dicts, provenance) parses the
header here, so a file whose header runs past the end, whose offsets do not tile the data
exactly, or whose JSON is nested without end is refused with one :class:`CheckpointError`
instead of a traceback from the JSON parser or the safetensors library.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidswap.errors import CheckpointError

__all__ = ["SafetensorsHeader", "read_safetensors_header"]

#: The largest header accepted (the safetensors library's own limit is 100 MB).
_MAX_HEADER = 100 * 1024 * 1024
#: Bytes per element of each safetensors dtype.
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


@dataclass(frozen=True)
class SafetensorsHeader:
    """A checked safetensors header.

    Attributes:
        tensors: each tensor's name and shape, in header order.
        metadata: the ``__metadata__`` strings (empty when absent).
        raw: the whole parsed header (tensor entries and ``__metadata__``).
        data_start: the offset of the first tensor byte in the file.
    """

    tensors: dict[str, tuple[int, ...]]
    metadata: dict[str, str]
    raw: dict[str, Any]
    data_start: int


def read_safetensors_header(path: Path) -> SafetensorsHeader:
    """The header of a safetensors file, checked against the file's length.

    Raises:
        CheckpointError: the file is unreadable, shorter than its header says, its header is not a
            JSON object of tensor entries, or the entries' offsets do not cover the data exactly
            (the message names the first problem).
    """
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a safetensors file: {why}")

    try:
        with path.open("rb") as stream:
            size = path.stat().st_size
            prefix = stream.read(8)
            if len(prefix) != 8:
                raise bad("shorter than its 8-byte header length")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(_MAX_HEADER, size - 8):
                raise bad(f"its header claims {length} bytes, past the end of the {size}-byte file")
            raw = stream.read(length)
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad(f"its header is not JSON ({err})") from err
    except RecursionError as err:
        raise bad("its header is JSON nested too deeply") from err
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("its __metadata__ is not an object of strings")
    tensors, spans = {}, []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape, span = _tensor_entry(name, entry, bad)
        tensors[name] = shape
        spans.append((span, name))
    data = size - 8 - length
    position = 0
    for (start, end), name in sorted(spans):
        if start != position:
            raise bad(f"tensor {name!r} starts at data byte {start}, expected {position} (gap or overlap)")
        position = end
    if position != data:
        raise bad(f"the tensors cover {position} data bytes but the file holds {data} "
                  f"({'truncated' if position > data else 'trailing bytes'})")
    return SafetensorsHeader(tensors=tensors, metadata=dict(metadata), raw=header, data_start=8 + length)


def _tensor_entry(name: str, entry: object,
                  bad: Callable[[str], CheckpointError]) -> tuple[tuple[int, ...], tuple[int, int]]:
    """Shape and (start, end) data offsets of one header entry, checked for consistency."""
    if not isinstance(entry, dict):
        raise bad(f"entry {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in _DTYPE_BYTES:
        raise bad(f"tensor {name!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise bad(f"tensor {name!r} has shape {shape!r}, expected a list of sizes")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(n, int) for n in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise bad(f"tensor {name!r} has data_offsets {offsets!r}, expected [start, end]")
    if offsets[1] - offsets[0] != math.prod(shape) * _DTYPE_BYTES[dtype]:
        raise bad(f"tensor {name!r} ({dtype} {tuple(shape)}) spans {offsets[1] - offsets[0]} bytes")
    return tuple(shape), (offsets[0], offsets[1])
