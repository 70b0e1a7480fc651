"""Fetching manifest entries into the cache, and making sure ``vidswap run`` has what it needs.

:func:`fetch` downloads an entry (trying its mirrors in order), extracts a pack's files,
records size and sha256 of everything and moves the entry into the cache in one rename. A
file whose sha256 the manifest does not pin is first checked to be what the entry claims
(:func:`~vidswap.weights.structure.check_file`: format, tensor names and shapes); one that
is not is deleted, never cached, and the next mirror is tried.
:func:`install_original` does the same for a file that arrived another way (an import of a
manifest entry on an offline machine). :func:`ensure` is what a command calls with a model
reference: manifest names are fetched on first use, anything else is resolved.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Literal

from vidswap.errors import DownloadError, WeightsError
from vidswap.weights.cache import (
    CacheRecord,
    CacheSettings,
    FileRecord,
    ResolvedWeights,
    cached_names,
    check_writable,
    install,
    locked,
    resolve,
    utc_now,
)
from vidswap.weights.download import download, sha256_of
from vidswap.weights.manifest import Manifest, WeightEntry

__all__ = ["ensure", "fetch", "how_to_get", "import_command", "install_original", "missing_defaults",
           "refuse_non_commercial"]


def import_command(entry: WeightEntry) -> str:
    """The command that puts a copy of ``entry``'s file, got some other way, into the cache."""
    return f"`vidswap weights import {entry.file} --as {entry.name}`"


def how_to_get(entry: WeightEntry) -> str:
    """A sentence telling the user how to put ``entry`` into the cache without this command."""
    where = f"from {entry.url}" if entry.urls else f"({entry.source})"
    return f"Download {entry.file} {where} on a machine with network access, then run {import_command(entry)}."


def refuse_non_commercial(names: list[str] | tuple[str, ...], manifest: Manifest) -> None:
    """Refuse, before anything is downloaded, the manifest entries of ``names`` whose licence does not
    allow commercial use (a commercial-only run or fetch); names not in the manifest pass.

    Raises:
        WeightsError: naming each refused entry with its licence (setting ``commercial_only``).
    """
    refused = [manifest.get(name) for name in names if name in manifest and not manifest.get(name).commercial]
    if refused:
        raise WeightsError("commercial_only: these weights' licences do not allow commercial use; nothing was "
                           "downloaded:\n" + "\n".join(f"  {entry.name} ({entry.role}, {entry.file}): licence "
                                                         f"{entry.licence}" for entry in refused),
                           setting="commercial_only")


def fetch(name: str, *, cache: CacheSettings, manifest: Manifest, offline: bool = False, force: bool = False,
          progress: bool = True, timeout: float = 30.0, attempts: int = 3) -> ResolvedWeights:
    """Put the manifest entry ``name`` into the cache (a no-op when it is already there).

    Args:
        name: a manifest name.
        cache: the cache.
        manifest: the manifest.
        offline: never touch the network; fail when the entry is not cached.
        force: download again even when cached.
        progress: show a progress bar on stderr.
        timeout: seconds a connection may stall.
        attempts: connection attempts per URL (each resumes where the last stopped).

    Raises:
        WeightsError: ``name`` is not in the manifest, the cache is not writable, or what every
            URL gave is not what the entry claims (a pack lacking a file, another format or model).
        DownloadError: offline and not cached, or every URL failed (the last error is given).
    """
    entry = manifest.get(name)
    if entry.package_resource is not None or (name in cached_names(cache) and not force):
        return resolve(name, cache=cache, manifest=manifest)
    if not entry.urls:
        raise DownloadError(f"{name!r} has no download URL. {how_to_get(entry)}")
    if offline:
        raise DownloadError(f"{entry.file} is not in the cache and offline mode forbids downloading it. "
                            f"{how_to_get(entry)}")
    check_writable(cache)
    with locked(cache, name):
        if name in cached_names(cache) and not force:
            return resolve(name, cache=cache, manifest=manifest)  # another process fetched it meanwhile
        return _download_entry(entry, cache=cache, manifest=manifest, progress=progress, timeout=timeout,
                               attempts=attempts)


def _download_entry(entry: WeightEntry, *, cache: CacheSettings, manifest: Manifest, progress: bool,
                    timeout: float, attempts: int) -> ResolvedWeights:
    """Download ``entry`` (trying its mirrors in order) and install it; the caller holds the lock."""
    staging = cache.staging_dir / entry.name
    _clear_except_part(staging, entry.file)
    errors: list[DownloadError | WeightsError] = []
    for url in entry.urls:
        try:
            result = download(url, staging / entry.file, size=entry.size, sha256=entry.sha256,
                              timeout=timeout, attempts=attempts, progress=progress, hint=how_to_get(entry),
                              redirect_origins=entry.redirect_origins)
            return install_original(entry, result.path, cache=cache, manifest=manifest, origin="download",
                                    source=url)
        except DownloadError as err:
            errors.append(err)
        except WeightsError as err:  # not what the entry claims: deleted, never cached
            shutil.rmtree(staging, ignore_errors=True)
            errors.append(err)
    if not any(staging.glob("*.part")):
        shutil.rmtree(staging, ignore_errors=True)
    raise errors[-1]


def install_original(entry: WeightEntry, path: Path, *, cache: CacheSettings, manifest: Manifest,
                     origin: Literal["download", "import"], source: str) -> ResolvedWeights:
    """Move a checked original file of ``entry`` (in a staging folder of its own) into the cache.

    Without a pinned sha256 the file is first checked to be what the entry claims (format,
    size, tensor names and shapes). A pack is extracted next to it (only the files the manifest
    lists, by base name, so a member path cannot escape the folder) and the zip is deleted.

    Args:
        entry: the manifest entry the file belongs to.
        path: the original file, alone in a folder under the cache's staging folder.
        origin: ``download`` or ``import``.
        source: the URL or path it came from.

    Raises:
        WeightsError: the file is not what the entry claims, or a pack lacks one of the files the
            manifest lists (nothing is installed).
    """
    from vidswap.weights.structure import check_file

    staging = path.parent
    checked = check_file(entry, path, label=source) if entry.sha256 is None else None
    size, sha256 = path.stat().st_size, sha256_of(path)
    if entry.is_pack:
        files = _extract(entry, path)
        path.unlink()
    else:
        files = (FileRecord(name=path.name, size=size, sha256=sha256),)
    record = CacheRecord(name=entry.name, origin=origin, role=entry.role, format=entry.format,
                         main=None if entry.is_pack else path.name, files=files, source=source,
                         licence=entry.licence, original_sha256=sha256, original_size=size,
                         checksum="manifest" if entry.sha256 else "recorded", created=utc_now(),
                         checked=checked)
    install(cache, staging, record)
    return resolve(entry.name, cache=cache, manifest=manifest)


def ensure(ref: str, *, cache: CacheSettings, manifest: Manifest, offline: bool = False,
           progress: bool = True) -> ResolvedWeights:
    """Resolve a model reference, fetching a manifest entry on first use (unless offline)."""
    if ref in manifest:
        return fetch(ref, cache=cache, manifest=manifest, offline=offline, progress=progress)
    return resolve(ref, cache=cache, manifest=manifest)


def missing_defaults(*, cache: CacheSettings, manifest: Manifest) -> tuple[str, ...]:
    """The default entries (what ``vidswap run`` needs) that are not in the cache yet."""
    present = set(cached_names(cache))
    return tuple(name for name in manifest.defaults
                 if name not in present and manifest.get(name).package_resource is None)


def _clear_except_part(staging: Path, file: str) -> None:
    """Empty a staging folder left by a crash, keeping a partial download to resume."""
    if staging.is_dir():
        for path in staging.iterdir():
            if path.name != f"{file}.part":
                shutil.rmtree(path) if path.is_dir() else path.unlink()


def _extract(entry: WeightEntry, archive: Path) -> tuple[FileRecord, ...]:
    """Extract the files ``entry`` lists from the zip into the zip's folder, checking the sha256
    of those the manifest pins."""
    wanted = {pack_file.name for pack_file in entry.files}
    pinned = {pack_file.name: pack_file.sha256 for pack_file in entry.files if pack_file.sha256}
    records = []
    try:
        with zipfile.ZipFile(archive) as pack:
            for member in pack.infolist():
                base = Path(member.filename).name
                if member.is_dir() or base not in wanted:
                    continue
                wanted.discard(base)
                out = archive.parent / base
                with pack.open(member) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                digest = sha256_of(out)
                if base in pinned and digest != pinned[base]:
                    shutil.rmtree(archive.parent, ignore_errors=True)
                    raise WeightsError(f"{member.filename} in {archive.name} for {entry.name!r} has sha256 "
                                       f"{digest}, the manifest expects {pinned[base]}; nothing was installed. "
                                       f"{how_to_get(entry)}")
                records.append(FileRecord(name=base, size=out.stat().st_size, sha256=digest))
    except zipfile.BadZipFile as err:
        shutil.rmtree(archive.parent, ignore_errors=True)
        raise WeightsError(f"{archive.name} for {entry.name!r} is not a valid zip ({err}); "
                           f"it was deleted. {how_to_get(entry)}") from err
    if wanted:
        shutil.rmtree(archive.parent, ignore_errors=True)
        raise WeightsError(f"{archive.name} for {entry.name!r} lacks {', '.join(sorted(wanted))}, "
                           f"which the manifest lists; nothing was installed")
    return tuple(records)
