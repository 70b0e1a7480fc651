"""The swap model of a run: which weight files it needs, fetching them, and loading them.

A model reference is a vidswap model file (``vidswap model init``, a training run, an
imported safetensors model), or a manifest / cache name. With no reference the manifest's
``defaults`` set is used (ghost's AEI-Net and its ArcFace backbone), fetched into the cache
on first use with a progress bar. Every file needed is found *before* any frame is decoded:
offline or after a failed fetch, one :class:`~vidswap.errors.WeightsError` names everything
missing and how to get, import or train it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap.errors import DownloadError, WeightsError
from vidswap.weights.ghost import GHOST_IDENTITY

if TYPE_CHECKING:
    import torch

    from vidswap.models.family import SwapModel
    from vidswap.weights.cache import CacheSettings, ResolvedWeights
    from vidswap.weights.manifest import Manifest

__all__ = ["ModelFiles", "resolve_model", "load_model"]



@dataclass(frozen=True, kw_only=True)
class ModelFiles:
    """The weight files of one swap model, all present on disk.

    Attributes:
        aei: a vidswap model file (any family; FaceShifter: AEI-Net, identity, maybe HEAR-Net)
            or a ghost AEI-Net checkpoint.
        identity: the ArcFace backbone for a ghost AEI-Net; None for a vidswap model file,
            which carries its own.
        extra: other files of the default set (e.g. the detector pack), for the record.
    """

    aei: ResolvedWeights
    identity: ResolvedWeights | None = None
    extra: tuple[ResolvedWeights, ...] = ()

    @property
    def all(self) -> tuple[ResolvedWeights, ...]:
        """Every file, in the order they are used."""
        return (self.aei, *([self.identity] if self.identity else []), *self.extra)


def _is_model_file(path: Path) -> bool:
    """A vidswap model file (even one whose header is broken: its loader then names the problem,
    rather than the file being taken for a ghost checkpoint)."""
    from vidswap.models.checkpoint import is_model_file

    return path.suffix == ".safetensors" and path.is_file() and is_model_file(path)


def _advice(name: str, manifest: Manifest) -> str:
    from vidswap.weights.fetch import how_to_get

    if name in manifest:
        return how_to_get(manifest.get(name))
    return f"import it with `vidswap weights import FILE --as {name}`."


def _missing(name: str, err: Exception, manifest: Manifest) -> str:
    """One entry of the missing-weights message: the name, why, and how to get it (once)."""
    why, advice = str(err).splitlines()[0], _advice(name, manifest)
    return f"{name} ({why})" if advice in why else f"{name} ({why}) {advice}"


def resolve_model(ref: str | Path | None, *, cache: CacheSettings, manifest: Manifest, offline: bool = False,
                  progress: bool = True,
                  notify: Callable[[ResolvedWeights], None] | None = None) -> ModelFiles:
    """Find (fetching on first use) every file a model reference needs.

    Args:
        ref: a path, manifest name or cache name; None = the manifest's ``defaults``.
        cache: the weights cache.
        manifest: the weights manifest.
        offline: never download; whatever is not cached is missing.
        progress: show download progress on stderr.
        notify: called with each file once it is present (the CLI prints its licence).

    Returns:
        The files, all on disk.

    Raises:
        WeightsError: some weights are missing (offline, or the fetch failed) or the
            reference is unknown; the message names each missing entry and how to get it,
            import it, or use a model of one's own (``model.path``).
    """
    from vidswap.weights.fetch import ensure

    names: list[str | Path] = list(manifest.defaults) if ref is None else [ref]
    found: list[ResolvedWeights] = []
    missing: list[str] = []
    for name in names:
        try:
            resolved = ensure(str(name), cache=cache, manifest=manifest, offline=offline, progress=progress)
        except (DownloadError, WeightsError) as err:
            if ref is not None and str(name) not in manifest:
                raise
            missing.append(_missing(str(name), err, manifest))
            continue
        found.append(resolved)
        if notify is not None:
            notify(resolved)
    if not missing and not _is_model_file(found[0].path) and found[0].role in ("aei", None) and (
            ref is not None):
        # A ghost AEI-Net named by itself also needs the backbone its z_id was made with.
        try:
            backbone = ensure(GHOST_IDENTITY, cache=cache, manifest=manifest, offline=offline,
                              progress=progress)
            found.append(backbone)
            if notify is not None:
                notify(backbone)
        except (DownloadError, WeightsError) as err:
            missing.append(_missing(GHOST_IDENTITY, err, manifest))
    if missing:
        raise WeightsError(
            "missing model weights (nothing was decoded): " + "; ".join(missing)
            + " Or use a model of your own: model.path FILE.safetensors (write a random test model with "
              "`vidswap model init -o FILE`, or train one with `vidswap train`).", setting="model.path")
    if _is_model_file(found[0].path):
        return ModelFiles(aei=found[0], extra=tuple(found[1:]))
    identity = next((w for w in found if w.role == "identity"), None)
    aei = next((w for w in found if w.role in ("aei", None) and w is not identity), None)
    if aei is None or identity is None:
        raise WeightsError(f"model {ref or 'defaults'}: expected an AEI-Net and an identity backbone, found "
                           f"{', '.join(f'{w.name} ({w.role})' for w in found)}")
    return ModelFiles(aei=aei, identity=identity, extra=tuple(w for w in found if w not in (aei, identity)))


def load_model(files: ModelFiles, *, device: str | torch.device = "cpu") -> SwapModel:
    """Load the swap model of ``files`` onto ``device``, frozen and in eval mode.

    A model file loads through its family (:func:`~vidswap.models.family.load_swap_model`); a
    ghost AEI-Net checkpoint and its ArcFace backbone are converted by
    :func:`~vidswap.weights.ghost.load_ghost` (ghost's alignment and raw z_id in its config).

    Raises:
        CheckpointError: a file does not fit the networks.
    """
    import torch

    from vidswap.models.family import load_swap_model

    if files.identity is None:
        return load_swap_model(files.aei.path, device=device)
    from vidswap.models.checkpoint import bundle_from_state
    from vidswap.weights.ghost import load_ghost

    cfg, parts = load_ghost(files.aei.path, files.identity.path)
    provenance = {"source": files.aei.source, "licence": files.aei.licence}
    bundle = bundle_from_state(cfg, parts, metadata=provenance, source=str(files.aei.path))
    return bundle.to(torch.device(device))
