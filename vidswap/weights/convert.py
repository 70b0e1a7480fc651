"""Converting community checkpoints into vidswap files that carry their provenance.

- ghost (ai-forever/ghost) AEI-Net ``G_unet_*.pth`` + an ArcFace backbone → a vidswap model
  file (:mod:`vidswap.models.checkpoint`) that ``vidswap run`` loads;
- an insightface recognition ONNX model → an IResNet state dict as safetensors, usable as the
  identity backbone of a model file (``--identity``) and for training.

Both record the source, licence and sha256 of what they were made from; a model file made
from two sources names both licences. :func:`ensure_ghost_model` is what ``vidswap run``
calls: it fetches ghost's weights on first use and keeps the converted model in the cache.
A ghost conversion records its identity backbone's sha256 and warns when the backbone is not
the one ghost's AEI-Net was trained with (:func:`ghost_identity_problem`).
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap.errors import ConfigError, OutputExistsError, WeightsError
from vidswap.weights.cache import (
    CacheRecord,
    CacheSettings,
    FileRecord,
    ResolvedWeights,
    install,
    locked,
    read_record,
    resolve,
    utc_now,
)
from vidswap.weights.download import sha256_of
from vidswap.weights.fetch import ensure
from vidswap.weights.ghost import GHOST_IDENTITY
from vidswap.weights.manifest import Manifest, load_manifest
from vidswap.weights.metadata import Provenance, save_tensors

if TYPE_CHECKING:

    from vidswap.models.config import IdentityBackbone

__all__ = ["convert_arcface_file", "convert_ghost_file", "ensure_ghost_model", "ghost_identity_problem",
           "identity_onnx_path"]

log = logging.getLogger(__name__)


def _original_sha256(weights: ResolvedWeights) -> str:
    """The sha256 of the file a reference points at (from the cache record when there is one)."""
    if weights.record is not None and weights.record.main is not None:
        return next(f.sha256 for f in weights.record.files if f.name == weights.record.main)
    return sha256_of(weights.path)


def _check_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not overwrite:
        raise OutputExistsError(f"{output} exists; with force it is replaced", setting="force")
    if output.suffix != ".safetensors":
        raise ConfigError(f"-o {output}: converted weights are written as .safetensors; name the file so")


def ghost_identity_problem(identity: ResolvedWeights, sha256: str, *, manifest: Manifest,
                           cache: CacheSettings | None = None) -> str | None:
    """Why ``identity`` (of checksum ``sha256``) may not be the backbone ghost's AEI-Net was
    trained with, or None when it is.

    The reference is the manifest's :data:`~vidswap.weights.ghost.GHOST_IDENTITY` entry: its
    sha256 where the manifest pins one, else (ghost publishes none) the checksum recorded when
    that entry was fetched or imported into ``cache``; with neither, the backbone cannot be
    checked, which is said too.
    """
    entry = manifest.get(GHOST_IDENTITY) if GHOST_IDENTITY in manifest else None
    known = entry.sha256 if entry is not None else None
    record = read_record(cache, GHOST_IDENTITY) if known is None and cache is not None else None
    if record is not None and record.main is not None:
        known = next((f.sha256 for f in record.files if f.name == record.main), None)
    consequence = ("z_id will not be what the generator was trained on, and the swap will not look like "
                   "the source")
    if known is None:
        return (f"the identity backbone {identity.name} (sha256 {sha256}) cannot be checked against "
                f"{GHOST_IDENTITY}, the backbone ghost's AEI-Net was trained with: the manifest pins no "
                f"sha256 for it and it is not in the cache; if it is another backbone, {consequence}")
    if sha256 != known:
        return (f"the identity backbone {identity.name} (sha256 {sha256}) is not {GHOST_IDENTITY} "
                f"(sha256 {known}), the backbone ghost's AEI-Net was trained with: {consequence}")
    return None


def convert_ghost_file(aei: ResolvedWeights, identity: ResolvedWeights, output: Path, *,
                       overwrite: bool = False, manifest: Manifest | None = None,
                       cache: CacheSettings | None = None, warn: Callable[[str], None] | None = None) -> Path:
    """Convert a ghost AEI-Net checkpoint and its ArcFace backbone into one vidswap model file.

    The backbone's sha256 is recorded (``identity_sha256``) and checked with
    :func:`ghost_identity_problem`; a problem is logged as a warning and handed to ``warn``.

    Args:
        aei: ghost's ``G_unet_{1block,2blocks,3blocks}.pth`` (1, 2 or 3 AAD units are found
            from its keys).
        identity: an arcface_torch iresnet100 state dict: ghost's ``backbone.pth``, the one its
            AEI-Net was trained with (floating tensors are cast to float32).
        output: the ``.safetensors`` model file to write (atomically).
        overwrite: replace ``output`` if it exists.
        manifest: where ghost's backbone is named (default: the manifest beside the package).
        cache: where its recorded checksum is looked up (none: only a pinned sha256 is compared).
        warn: also called with the problem's message (the CLI prints it).

    Returns:
        ``output``.

    Raises:
        OutputExistsError: ``output`` exists and ``overwrite`` is false.
        CheckpointError: a key of either file is unknown, missing or of another shape (the
            message names the first).
    """
    from vidswap.models.checkpoint import write_checkpoint
    from vidswap.weights.ghost import load_ghost

    _check_output(output, overwrite)
    cfg, parts = load_ghost(aei.path, identity.path)
    identity_sha256 = _original_sha256(identity)
    problem = ghost_identity_problem(identity, identity_sha256, manifest=manifest or load_manifest(), cache=cache)
    if problem is not None:
        log.warning("%s", problem)
        if warn is not None:
            warn(problem)
    provenance = Provenance(source=aei.source, licence=f"{aei.licence}; identity encoder: {identity.licence}",
                            original_sha256=_original_sha256(aei), original_name=aei.path.name,
                            converted_from="ghost", created=utc_now())
    metadata = {**provenance.to_metadata(), "identity_source": identity.source,
                "identity_sha256": identity_sha256, "identity_licence": identity.licence}
    return write_checkpoint(output, cfg, parts, metadata=metadata, overwrite=overwrite)


def identity_onnx_path(weights: ResolvedWeights) -> Path:
    """The recognition ONNX file of a reference: the file itself, or a pack's identity file.

    Raises:
        WeightsError: a pack without an identity model.
    """
    if weights.path.is_file():
        return weights.path
    files = weights.entry.files if weights.entry is not None else ()
    for pack_file in files:
        if pack_file.role == "identity":
            return weights.path / pack_file.name
    raise WeightsError(f"{weights.name!r} ({weights.path}) holds no recognition model (role identity)")


def convert_arcface_file(onnx: ResolvedWeights, output: Path, *, backbone: IdentityBackbone | None = None,
                         overwrite: bool = False) -> tuple[IdentityBackbone, Path]:
    """Convert an insightface recognition ONNX model into an IResNet state dict (safetensors).

    Returns:
        The IResNet it is (``iresnet50`` for w600k_r50, ``iresnet100`` for glintr100) and ``output``.

    Raises:
        OutputExistsError: ``output`` exists and ``overwrite`` is false.
        CheckpointError: a node that does not fit (see :func:`convert_arcface_onnx`).
    """
    from vidswap.weights.arcface_onnx import convert_arcface_onnx

    _check_output(output, overwrite)
    path = identity_onnx_path(onnx)
    name, state = convert_arcface_onnx(path, backbone=backbone)
    provenance = Provenance(source=onnx.source if path == onnx.path else f"{onnx.source} ({path.name})",
                            licence=onnx.licence, original_sha256=sha256_of(path), original_name=path.name,
                            converted_from=f"arcface-onnx ({name})", created=utc_now())
    output.parent.mkdir(parents=True, exist_ok=True)
    save_tensors(state, output, provenance=provenance)
    return name, output


def ensure_ghost_model(*, aei: str = "ghost_unet_2blocks", identity: str = GHOST_IDENTITY,
                       cache: CacheSettings, manifest: Manifest, offline: bool = False,
                       progress: bool = True) -> ResolvedWeights:
    """The vidswap model file made from ghost's weights, converted once and kept in the cache.

    Fetches ``aei`` and ``identity`` on first use (unless ``offline``), converts them and
    installs the result as the cache entry ``AEI+IDENTITY``; later calls return it at once.

    Raises:
        DownloadError: offline (or the network failed) and the weights are not cached.
        CheckpointError: the fetched files do not fit.
    """
    name = f"{aei}+{identity}"
    if read_record(cache, name) is not None:
        return resolve(name, cache=cache, manifest=manifest)
    aei_weights = ensure(aei, cache=cache, manifest=manifest, offline=offline, progress=progress)
    identity_weights = ensure(identity, cache=cache, manifest=manifest, offline=offline, progress=progress)
    with locked(cache, name):
        if read_record(cache, name) is None:  # else another process converted it meanwhile
            _convert_into_cache(name, aei_weights, identity_weights, cache=cache, manifest=manifest)
    return resolve(name, cache=cache, manifest=manifest)


def _convert_into_cache(name: str, aei: ResolvedWeights, identity: ResolvedWeights, *,
                        cache: CacheSettings, manifest: Manifest) -> None:
    staging = cache.staging_dir / f"{name}.convert-{uuid.uuid4().hex}"  # mkdtemp would make it private
    staging.mkdir(parents=True)
    try:
        output = convert_ghost_file(aei, identity, staging / "model.safetensors", manifest=manifest, cache=cache)
        record = CacheRecord(name=name, origin="convert", role="aei", format="safetensors", main=output.name,
                             files=(FileRecord(name=output.name, size=output.stat().st_size,
                                               sha256=sha256_of(output)),),
                             source=f"{aei.source} + {identity.source}",
                             licence=f"{aei.licence}; identity encoder: {identity.licence}",
                             original_sha256=_original_sha256(aei), original_size=aei.path.stat().st_size,
                             checksum="recorded", created=utc_now())
        install(cache, staging, record)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
