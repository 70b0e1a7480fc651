"""Importing a weights file from disk into the cache (``vidswap weights import FILE --as NAME``).

Two cases:

- ``NAME`` is a manifest entry: the file is that entry's original (say, downloaded on
  another machine). It is checked against the manifest's size and sha256 when known (else
  against the entry's format and architecture) and installed exactly as a fetch would
  install it.
- any other ``NAME``: the file becomes ``NAME.safetensors`` carrying its provenance (source,
  licence, original sha256) in its metadata. A ``.pth`` checkpoint is read only through
  ``torch.load(weights_only=True)`` and must be a flat state dict of tensors; a safetensors
  file keeps its tensor bytes; an ONNX model is copied and its provenance kept in the cache
  record.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import uuid
from pathlib import Path

from vidswap.errors import ConfigError, InputError, OutputExistsError, WeightsError
from vidswap.weights.cache import (
    CacheRecord,
    CacheSettings,
    FileRecord,
    ResolvedWeights,
    cached_names,
    check_writable,
    install,
    resolve,
    tidy,
    utc_now,
)
from vidswap.weights.download import sha256_of
from vidswap.weights.fetch import install_original
from vidswap.weights.manifest import Format, Manifest, Role
from vidswap.weights.metadata import Provenance, add_provenance, read_provenance, save_tensors
from vidswap.weights.torchfile import PTH_SUFFIXES, load_torch_state_dict

__all__ = ["import_file"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def import_file(src: Path, *, name: str, cache: CacheSettings, manifest: Manifest, licence: str | None = None,
                role: Role | None = None, force: bool = False) -> ResolvedWeights:
    """Copy or convert ``src`` into the cache as ``name``, with its provenance.

    Args:
        src: the file to import.
        name: a manifest name (``src`` is that entry's original) or a new cache name.
        cache: the cache.
        manifest: the manifest.
        licence: the licence of a file that is not in the manifest ("unknown" when ``None``).
        role: what a file that is not in the manifest is for, when known.
        force: replace an entry of that name already in the cache.

    Raises:
        InputError: ``src`` does not exist.
        OutputExistsError: ``name`` is already cached and ``force`` is false.
        ConfigError: a bad name, an unsupported suffix, or options that do not apply.
        WeightsError: the cache is not writable, or ``src`` does not match the manifest entry
            ``name`` (its size, its sha256 when pinned, else its format, tensor names and shapes).
        CheckpointError: a ``.pth`` file that is unsafe or not a flat state dict, or a safetensors
            file whose header or offsets do not fit the file.
    """
    if not src.is_file():
        raise InputError(f"cannot import {src}: no such file")
    if not _NAME.match(name):
        raise ConfigError(f"name {name!r}: a cache name is letters, digits, '_', '-' and '.', "
                          f"starting with a letter or digit")
    if name in cached_names(cache) and not force:
        raise OutputExistsError(f"{name!r} is already in the cache ({cache.entry_dir(name)}); "
                                f"with force it is replaced", setting="force")
    check_writable(cache)
    staging = cache.staging_dir / f"{name}.import-{uuid.uuid4().hex}"  # mkdtemp would make it private
    staging.mkdir()
    try:
        if name in manifest:
            return _import_original(src, name=name, staging=staging, cache=cache, manifest=manifest,
                                    licence=licence, role=role)
        return _import_new(src, name=name, staging=staging, cache=cache, manifest=manifest,
                           licence=licence, role=role)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when installed
        tidy(cache)


def _import_original(src: Path, *, name: str, staging: Path, cache: CacheSettings, manifest: Manifest,
                     licence: str | None, role: Role | None) -> ResolvedWeights:
    """``src`` is the original file of manifest entry ``name``: check it and install it."""
    entry = manifest.get(name)
    if entry.package_resource is not None:
        raise ConfigError(f"{name!r} ships inside the Python package {entry.package_resource[0]!r}; "
                          f"there is nothing to import")
    if licence is not None or role is not None:
        raise ConfigError(f"{name!r} is a manifest entry, whose licence and role the manifest states; "
                          f"drop licence and role, or import under another name")
    path = staging / entry.file
    shutil.copyfile(src, path)
    if entry.size is not None and path.stat().st_size != entry.size:
        raise WeightsError(f"{src} has {path.stat().st_size} bytes, but {name!r} ({entry.file}) has "
                           f"{entry.size}; it is not that file or it is incomplete")
    if entry.sha256 is not None and (actual := sha256_of(path)) != entry.sha256:
        raise WeightsError(f"{src} has sha256 {actual}, but {name!r} ({entry.file}) has {entry.sha256}; "
                           f"it is not that file or it is corrupted")
    return install_original(entry, path, cache=cache, manifest=manifest, origin="import",
                            source=str(src.resolve()))


def _import_new(src: Path, *, name: str, staging: Path, cache: CacheSettings, manifest: Manifest,
                licence: str | None, role: Role | None) -> ResolvedWeights:
    """Store ``src`` under a new cache name, converting a torch pickle to safetensors."""
    suffix = src.suffix.lower()
    original_sha256 = sha256_of(src)
    fmt: Format
    if suffix == ".safetensors":
        # A file vidswap wrote (a converted model) keeps the provenance it carries.
        fmt, stored = "safetensors", staging / f"{name}.safetensors"
        carried = read_provenance(src)
        provenance = (dataclasses.replace(carried, licence=licence or carried.licence) if carried else
                      _provenance(src, licence, original_sha256))
        add_provenance(src, stored, provenance)
    elif suffix in PTH_SUFFIXES:
        fmt, stored = "safetensors", staging / f"{name}.safetensors"
        provenance = _provenance(src, licence, original_sha256)
        save_tensors(load_torch_state_dict(src), stored, provenance=provenance)
    elif suffix == ".onnx":
        fmt, stored = "onnx", staging / f"{name}.onnx"
        provenance = _provenance(src, licence, original_sha256)
        shutil.copyfile(src, stored)
    else:
        raise ConfigError(f"cannot import {src}: expected .safetensors, .onnx or a torch checkpoint "
                          f"({', '.join(PTH_SUFFIXES)}), got {suffix or 'no suffix'!r}")
    record = CacheRecord(name=name, origin="import", role=role, format=fmt, main=stored.name,
                         files=(FileRecord(name=stored.name, size=stored.stat().st_size,
                                           sha256=sha256_of(stored)),),
                         source=provenance.source, licence=provenance.licence,
                         original_sha256=original_sha256,
                         original_size=src.stat().st_size, checksum="recorded", created=utc_now())
    install(cache, staging, record)
    return resolve(name, cache=cache, manifest=manifest)


def _provenance(src: Path, licence: str | None, original_sha256: str) -> Provenance:
    """The provenance of a file imported as it is (or converted from a torch pickle)."""
    return Provenance(source=str(src.resolve()), licence=licence or "unknown",
                      original_sha256=original_sha256, original_name=src.name,
                      converted_from=src.suffix.lower().lstrip("."), created=utc_now())
