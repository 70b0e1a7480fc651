"""Provenance carried inside safetensors files: source, licence and the original's sha256.

Every file vidswap imports or converts into safetensors records where it came from in the
file's own header, so the licence travels with the weights wherever they are copied. The
header's metadata has one ``vidswap`` entry, a JSON object whose ``metadata`` member holds the
provenance as strings; vidswap model files (:mod:`vidswap.models.checkpoint`) keep their
config in the same object, so one reader serves both. Reading parses only the JSON header,
without torch; adding provenance to an existing safetensors file rewrites the header and
copies the tensor bytes unchanged.
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
from vidswap.models.safetensors_file import read_safetensors_header

if TYPE_CHECKING:
    import torch

__all__ = [
    "HEADER_KEY",
    "Provenance",
    "RANDOM_WEIGHTS_LICENCE",
    "add_provenance",
    "read_metadata",
    "read_provenance",
    "save_tensors",
]

#: The one entry of a safetensors header's ``__metadata__`` that vidswap writes (JSON).
HEADER_KEY = "vidswap"


#: The licence a random-initialisation model file records (``vidswap model init``): its swaps
#: and identity figures mean nothing.
RANDOM_WEIGHTS_LICENCE = "none (random weights)"


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
    original_sha256: str | None = None
    original_name: str | None = None
    converted_from: str | None = None
    created: str | None = None

    @property
    def random(self) -> bool:
        """Whether the weights are a random initialisation (a test model), not trained."""
        return self.licence == RANDOM_WEIGHTS_LICENCE

    def to_metadata(self) -> dict[str, str]:
        """The provenance as the string entries of a file's vidswap ``metadata``."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> Provenance | None:
        """The provenance in ``metadata``, or ``None`` when it names no source and licence."""
        if "source" not in metadata or "licence" not in metadata:
            return None
        return cls(**{f.name: str(metadata[f.name]) for f in fields(cls) if f.name in metadata})


def _read_header(path: Path) -> tuple[dict, int]:
    """The parsed JSON header of a safetensors file and the offset where tensor data starts.

    Raises:
        CheckpointError: the file is not a valid safetensors file (see
            :func:`~vidswap.models.safetensors_file.read_safetensors_header`).
    """
    header = read_safetensors_header(path)
    return header.raw, header.data_start


def read_metadata(path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (empty when it has none); torch is not needed.

    Raises:
        CheckpointError: the file is not a safetensors file.
    """
    header, _ = _read_header(path)
    return dict(header.get("__metadata__") or {})


def _vidswap_document(metadata: Mapping[str, str], path: Path) -> dict:
    """The JSON object under ``HEADER_KEY`` (empty when absent)."""
    try:
        document = json.loads(metadata.get(HEADER_KEY, "{}"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: the {HEADER_KEY!r} header entry is not JSON ({err})") from err
    except RecursionError as err:
        raise CheckpointError(f"{path}: the {HEADER_KEY!r} header entry is JSON nested too deeply") from err
    if not isinstance(document, dict):
        raise CheckpointError(f"{path}: the {HEADER_KEY!r} header entry is not a JSON object")
    return document


def read_provenance(path: Path) -> Provenance | None:
    """The provenance vidswap recorded in a safetensors file (imported, converted or a model
    file), or ``None``.

    Raises:
        CheckpointError: the file is not a safetensors file.
    """
    metadata = _vidswap_document(read_metadata(path), path).get("metadata")
    return Provenance.from_metadata(metadata) if isinstance(metadata, dict) else None


def add_provenance(src: Path, dest: Path, provenance: Provenance) -> None:
    """Copy a safetensors file to ``dest`` with ``provenance`` added to its vidswap metadata.

    Other header entries (and a model file's config) are kept; the tensor bytes are copied
    unchanged (their offsets are relative to the end of the header); the header is padded to a
    multiple of 8 bytes, as safetensors writes it. ``dest`` appears only when complete.

    Raises:
        CheckpointError: ``src`` is not a safetensors file.
    """
    header, data_start = _read_header(src)
    metadata = dict(header.get("__metadata__") or {})
    document = _vidswap_document(metadata, src)
    document["metadata"] = {**document.get("metadata", {}), **provenance.to_metadata()}
    metadata[HEADER_KEY] = json.dumps(document, sort_keys=True)
    header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 8)
    tmp = dest.with_name(dest.name + ".tmp")
    with src.open("rb") as source, tmp.open("wb") as out:
        out.write(struct.pack("<Q", len(raw)))
        out.write(raw)
        source.seek(data_start)
        shutil.copyfileobj(source, out, 1 << 20)
    os.replace(tmp, dest)


def save_tensors(tensors: Mapping[str, torch.Tensor], dest: Path, *, provenance: Provenance) -> None:
    """Write a flat state dict as safetensors with ``provenance``; ``dest`` appears only when complete."""
    from vidswap.models.checkpoint import write_safetensors

    write_safetensors(dest, tensors, {HEADER_KEY: json.dumps({"metadata": provenance.to_metadata()},
                                                             sort_keys=True)})
