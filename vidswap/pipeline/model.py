"""The swap model of a run: which weight files it needs, fetching them, and loading them.

A model reference is a vidswap model file (``vidswap model init``, a training run, an
imported safetensors model), or a manifest / cache name. With no reference the manifest's
``defaults`` set is used (ghost's AEI-Net and its ArcFace backbone), fetched into the cache
on first use with a progress bar. Every file needed is found *before* any frame is decoded:
offline or after a failed fetch, one :class:`~vidswap.errors.WeightsError` names everything
missing (each file on a line of its own, with the cause) and how to get, import or train it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap.errors import DownloadError, WeightsError
from vidswap.weights.cache import cached_names, check_writable
from vidswap.weights.ghost import GHOST_IDENTITY

if TYPE_CHECKING:
    import torch

    from vidswap.models.family import SwapModel
    from vidswap.weights.cache import CacheSettings, ResolvedWeights
    from vidswap.weights.manifest import Manifest, WeightEntry

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


@dataclass(frozen=True)
class _Missing:
    """A file the run needs and does not have: its name, manifest entry (None for a cache
    name), and why it is missing (None: offline, which the message's first line says)."""

    name: str
    entry: WeightEntry | None
    reason: str | None


def _run_checkpoint(ref: str | Path | None, *, cache: CacheSettings, manifest: Manifest) -> str | Path | None:
    """A training run folder's latest checkpoint in place of the folder; any other reference as it is.

    Raises:
        WeightsError: the folder holds no checkpoint (``checkpoints/step_N.safetensors``).
    """
    if ref is None or str(ref) in manifest or str(ref) in cached_names(cache):
        return ref
    folder = Path(ref).expanduser()
    if not folder.is_dir():
        return ref
    from vidswap.train.state import latest_checkpoint

    found = latest_checkpoint(folder)
    if found is None:
        raise WeightsError(f"model.path {folder} is a folder without a checkpoint (checkpoints/step_N.safetensors "
                           f"with its .state.pt): give a training run of `vidswap train` that saved one, or a "
                           f"model file (.safetensors)", setting="model.path")
    return found[0]


def _needs_backbone(name: str, manifest: Manifest) -> bool:
    """Whether a manifest entry is a ghost AEI-Net, which needs the backbone its z_id was made with."""
    return name in manifest and manifest.get(name).role == "aei" and manifest.get(name).format == "pth"


def _missing_message(missing: list[_Missing], *, cache: CacheSettings, offline: bool) -> str:
    """The missing-weights message: what, then each file with its cause and how to get it."""
    from vidswap.weights.fetch import how_to_get, import_command

    cause = "offline mode forbids downloading" if offline else "the download failed"
    lines = [f"missing model weights (nothing was decoded): {len(missing)} file(s) not in the cache at "
             f"{cache.weights_dir}, and {cause}:"]
    for item in missing:
        entry = item.entry
        if entry is None:
            lines.append(f"  {item.name}: {item.reason}")
            lines.append(f"    import it with `vidswap weights import FILE --as {item.name}`")
            continue
        lines.append(f"  {entry.name} ({entry.role}): {entry.file}, licence {entry.licence}")
        if item.reason:
            lines.append(f"    cause: {item.reason}")
        if entry.urls:
            lines.append(f"    url: {', '.join(entry.urls)}")
            lines.append(f"    get it: download it on a machine with network access, then run {import_command(entry)}")
        else:
            lines.append(f"    get it: {how_to_get(entry)}")
    lines.append("Or use a model of your own: model.path FILE.safetensors (write a random test model with "
                 "`vidswap model init -o FILE`, or train one with `vidswap train`).")
    return "\n".join(lines)


def resolve_model(ref: str | Path | None, *, cache: CacheSettings, manifest: Manifest, offline: bool = False,
                  progress: bool = True, notify: Callable[[ResolvedWeights], None] | None = None,
                  before_download: Callable[[WeightEntry], None] | None = None,
                  commercial_only: bool = False) -> ModelFiles:
    """Find (fetching on first use) every file a model reference needs.

    Every file is planned before anything is fetched, so a missing AEI-Net and its backbone are
    named together, licences are told before any download, and a commercial-only run refuses
    research-only weights before it downloads anything.

    Args:
        ref: a path (a training run folder stands for its latest checkpoint), manifest name or
            cache name; None = the manifest's ``defaults``.
        cache: the weights cache.
        manifest: the weights manifest.
        offline: never download; whatever is not cached is missing.
        progress: show download progress on stderr.
        notify: called with each file once it is present.
        before_download: called with each manifest entry about to be downloaded, before the first
            download starts (the CLI prints its licence).
        commercial_only: refuse manifest entries whose licence does not allow commercial use.

    Returns:
        The files, all on disk.

    Raises:
        WeightsError: some weights are missing (offline, or the fetch failed), are refused
            (``commercial_only``), or the reference is unknown; the missing-weights message has
            one line saying what, then each missing file with its cause, URL, licence and how to
            get or import it, then how to use a model of one's own (``model.path``).
    """
    ref = _run_checkpoint(ref, cache=cache, manifest=manifest)
    names = [str(name) for name in manifest.defaults] if ref is None else [str(ref)]
    if ref is not None and _needs_backbone(str(ref), manifest):
        names.append(GHOST_IDENTITY)
    found: list[ResolvedWeights] = []
    missing: list[_Missing] = []
    _fetch_all(names, ref, found, missing, cache=cache, manifest=manifest, offline=offline, progress=progress,
               notify=notify, before_download=before_download, commercial_only=commercial_only)
    if (not missing and ref is not None and GHOST_IDENTITY not in names and not _is_model_file(found[0].path)
            and found[0].role in ("aei", None)):
        # A cached or imported ghost AEI-Net also needs the backbone its z_id was made with.
        _fetch_all([GHOST_IDENTITY], ref, found, missing, cache=cache, manifest=manifest, offline=offline,
                   progress=progress, notify=notify, before_download=before_download,
                   commercial_only=commercial_only)
    if missing:
        raise WeightsError(_missing_message(missing, cache=cache, offline=offline), setting="model.path")
    if _is_model_file(found[0].path):
        return ModelFiles(aei=found[0], extra=tuple(found[1:]))
    identity = next((w for w in found if w.role == "identity"), None)
    aei = next((w for w in found if w.role in ("aei", None) and w is not identity), None)
    if aei is None or identity is None:
        raise WeightsError(f"model {ref or 'defaults'}: expected an AEI-Net and an identity backbone, found "
                           f"{', '.join(f'{w.name} ({w.role})' for w in found)}")
    return ModelFiles(aei=aei, identity=identity, extra=tuple(w for w in found if w not in (aei, identity)))


def _fetch_all(names: list[str], ref: str | Path | None, found: list[ResolvedWeights], missing: list[_Missing],
               *, cache: CacheSettings, manifest: Manifest, offline: bool, progress: bool,
               notify: Callable[[ResolvedWeights], None] | None,
               before_download: Callable[[WeightEntry], None] | None, commercial_only: bool) -> None:
    """Fetch ``names`` into ``found``, each failure into ``missing``; licences are told (and a
    commercial-only run refuses) before the first download."""
    from vidswap.weights.fetch import ensure, how_to_get, refuse_non_commercial

    if commercial_only:
        refuse_non_commercial(names, manifest)
    present = set(cached_names(cache))
    downloads = [] if offline else [manifest.get(name) for name in names
                                    if name in manifest and name not in present and manifest.get(name).urls]
    if downloads:
        check_writable(cache)  # a cache that cannot take them is said first
    for download in downloads:
        if before_download is not None:
            before_download(download)
    for name in names:
        try:
            resolved = ensure(name, cache=cache, manifest=manifest, offline=offline, progress=progress)
        except (DownloadError, WeightsError) as err:
            if ref is not None and name not in manifest:
                raise
            entry = manifest.get(name) if name in manifest else None
            why = str(err).replace(how_to_get(entry), "").strip() if entry is not None else str(err)
            missing.append(_Missing(name, entry, None if offline and isinstance(err, DownloadError) else why))
            continue
        found.append(resolved)
        if notify is not None:
            notify(resolved)


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
