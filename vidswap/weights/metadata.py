"""Provenance carried inside safetensors files: source, licence and the original's sha256.

Every file vidswap imports or converts into safetensors records where it came from in the
file's own ``__metadata__`` (keys prefixed ``vidswap.``), so the licence travels with the
weights wherever they are copied. Reading the metadata parses only the JSON header, without
torch; adding metadata to an existing safetensors file rewrites the header and copies the
tensor bytes unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap.errors import CheckpointError

if TYPE_CHECKING:
    import torch

__all__ = [
    "PREFIX",
    "Provenance",
    "add_metadata",
    "read_metadata",
    "read_provenance",
    "save_tensors",
]

#: Prefix of vidswap's keys in a safetensors file's ``__metadata__``.
PREFIX = "vidswap."
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where a converted or imported weights file came from.

    Attributes:
        source: the original's URL or path.
        licence: the licence of the weights ("unknown" when nobody said).
        original_sha256: sha256 (hex) of the original file.
        original_name: the original's file name.
        converted_from: the original's format or layout (``safetensors``, ``pth``, ``ghost``,
            ``arcface-onnx``).
        created: when the file was written (ISO 8601, UTC).
    """

    source: str
    licence: str
    original_sha256: str
    original_name: str
    converted_from: str
    created: str

    def to_metadata(self) -> dict[str, str]:
        """The ``vidswap.*`` metadata entries."""
        return {PREFIX + field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> Provenance | None:
        """The provenance in ``metadata``, or ``None`` when any ``vidswap.*`` key is missing."""
        values = {field.name: metadata.get(PREFIX + field.name) for field in fields(cls)}
        if any(value is None for value in values.values()):
            return None
        return cls(**values)  # type: ignore[arg-type]


def _read_header(path: Path) -> tuple[dict, int]:
    """The parsed JSON header of a safetensors file and the offset where tensor data starts.

    Raises:
        CheckpointError: the file is not a safetensors file.
    """
    with path.open("rb") as stream:
        prefix = stream.read(8)
        if len(prefix) != 8:
            raise CheckpointError(f"{path} is not a safetensors file: shorter than its 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if length > _MAX_HEADER:
            raise CheckpointError(f"{path} is not a safetensors file: header length {length} is implausible")
        raw = stream.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is not a safetensors file: its header is not JSON ({err})") from err
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file: its header is not a JSON object")
    return header, 8 + length


def read_metadata(path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (empty when it has none); torch is not needed.

    Raises:
        CheckpointError: the file is not a safetensors file.
    """
    header, _ = _read_header(path)
    return dict(header.get("__metadata__") or {})


def read_provenance(path: Path) -> Provenance | None:
    """The vidswap provenance recorded in a safetensors file, or ``None``."""
    return Provenance.from_metadata(read_metadata(path))


def add_metadata(src: Path, dest: Path, metadata: Mapping[str, str]) -> None:
    """Copy a safetensors file to ``dest`` with ``metadata`` merged into its ``__metadata__``.

    The tensor bytes are copied unchanged (their offsets are relative to the end of the
    header); the header is padded to a multiple of 8 bytes, as safetensors writes it.
    ``dest`` appears only when complete.

    Raises:
        CheckpointError: ``src`` is not a safetensors file.
    """
    header, data_start = _read_header(src)
    header["__metadata__"] = {**(header.get("__metadata__") or {}), **metadata}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 8)
    tmp = dest.with_name(dest.name + ".tmp")
    with src.open("rb") as source, tmp.open("wb") as out:
        out.write(struct.pack("<Q", len(raw)))
        out.write(raw)
        source.seek(data_start)
        shutil.copyfileobj(source, out, 1 << 20)
    os.replace(tmp, dest)


def save_tensors(tensors: Mapping[str, torch.Tensor], dest: Path, *, metadata: Mapping[str, str]) -> None:
    """Write a flat state dict as safetensors with ``metadata``; ``dest`` appears only when complete.

    Tensors that share storage with an earlier one (tied weights) are cloned, and
    non-contiguous ones made contiguous, since safetensors stores each tensor on its own.
    """
    from safetensors.torch import save_file

    seen: set[int] = set()
    plain = {}
    for key, tensor in tensors.items():
        tensor = tensor.detach().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        plain[key] = tensor.clone() if pointer in seen and tensor.numel() else tensor
        seen.add(pointer)
    tmp = dest.with_name(dest.name + ".tmp")
    save_file(plain, str(tmp), metadata=dict(metadata))
    os.replace(tmp, dest)
