"""A job's work directory: what a render needs to resume, re-render a range, or scale out.

Layout::

    JOB/
      job.json           version, the resolved pipeline (with its overrides), segment size,
                         sha256 of the input, source photos and weight files
      faces.npz          the face analysis of every frame (smoothed landmarks, tracks, sources)
      identities.npz     z_id of each source set
      segments/00000.nut a segment: its frames encoded on their own (closed GOP); NUT keeps
                         the input's time base exactly (.mov for ProRes, which NUT cannot hold)
      segments/00000.matte.nut  its matte (FFV1 greyscale), when the job writes a matte video (an
                         image-sequence matte is written straight to its own files, one per frame)
      segments/00000.json  its completion marker (frames, fingerprint), written after the
                         segment is complete and verified, atomically
      lock               flock: one ``run`` at a time; ``render`` slices share it
      segments/00000.lock  flock: one renderer per segment

Every file is written under a temporary name and renamed, so a crash leaves either the old
file or the new one. Locks are advisory ``fcntl.flock`` locks (local disks; on NFS they hold
only where the server supports them).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidswap.errors import ConfigError, InputError, JobLockedError
from vidswap.io.media import MATTE_CODEC, codec_info, is_sequence_pattern, sequence_path
from vidswap.io.writer import stale_temporaries, stale_temporaries_in, temporary_path
from vidswap.jobs.segments import Segment

__all__ = ["JOB_VERSION", "JobStore", "SegmentState", "sha256_file", "write_atomic", "count_video_frames"]

#: The stem of a segment's files (``00042.nut``, ``00042.json``): :attr:`Segment.name`.
_SEGMENT_STEM = re.compile(r"\d{5,}(\.matte)?")

#: The keys of ``job.json`` and their types (checked when it is read: it may have been edited).
_JOB_KEYS: dict[str, type] = {"pipeline": dict, "hashes": dict, "analysis": str, "base": str, "segment_frames": int}

#: Version of ``job.json``. 2: face analysis in upright coordinates (rotated inputs are analysed
#: upright), mux.json records the output's size and sha256.
JOB_VERSION = 2


def sha256_file(path: Path) -> str:
    """The sha256 of a file's content, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(err: BaseException) -> str:
    """A short cause for a message: the error's text, or its kind where it has none."""
    return str(err).strip() or type(err).__name__


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename."""
    temp = temporary_path(path)
    with open(temp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temp, path)


@dataclass(frozen=True)
class SegmentState:
    """What the work directory holds for a segment.

    Attributes:
        segment: the segment.
        state: ``done`` (file and marker agree with the plan), ``stale`` (done, but for other
            settings or faces), ``torn`` (a file without a valid marker, or a marker whose frame
            count is wrong) or ``missing``.
    """

    segment: Segment
    state: str


class JobStore:
    """The files of one job directory.

    Args:
        root: the job directory (created by :meth:`create`).
        codec: the video codec of the segments (picks their container).
        matte: the job's matte output (a video, or an image-sequence pattern; None: no matte): a
            segment is done only with its matte.
        first_number: the file number of frame 0 in an image-sequence matte (the input's
            :func:`~vidswap.io.sequence.plate_number` of 0: a plate's own numbering).
        frame_files: the files written per frame outside the job (a turnover's layers), by frame
            index: a segment is done only with those of its frames.
    """

    def __init__(self, root: str | Path, *, codec: str = "ffv1", matte: Path | None = None,
                 first_number: int = 0, frame_files: Callable[[int], Sequence[Path]] | None = None) -> None:
        self.root = Path(root)
        self.frame_files = frame_files
        self.first_number = first_number
        self.suffix = codec_info(codec).segment_container
        self.matte = matte
        self.matte_suffix = codec_info(MATTE_CODEC).segment_container

    job_file = property(lambda self: self.root / "job.json")
    faces_file = property(lambda self: self.root / "faces.npz")
    identities_file = property(lambda self: self.root / "identities.npz")
    segments_dir = property(lambda self: self.root / "segments")

    def exists(self) -> bool:
        """Whether a job was made here."""
        return self.job_file.is_file()

    def sweep(self) -> list[Path]:
        """Delete the temporaries a killed run left of this job's own files (``job.json``, the
        arrays, each segment and its marker); nothing else, and nothing through a link.

        Returns:
            The files deleted.
        """
        if self.root.is_symlink():
            return []
        own = (self.job_file, self.faces_file, self.identities_file, self.root / "mux.json")
        deleted = [temp for path in own for temp in stale_temporaries(path)]
        deleted += stale_temporaries_in(self.segments_dir, _SEGMENT_STEM, (self.suffix, self.matte_suffix, ".json"))
        for temp in deleted:
            temp.unlink(missing_ok=True)
        return deleted

    def create(self) -> None:
        """Make the directory layout (idempotent)."""
        self.segments_dir.mkdir(parents=True, exist_ok=True)

    # job.json -------------------------------------------------------------------------------
    def read(self) -> dict[str, Any]:
        """``job.json`` as data.

        Raises:
            InputError: no job here.
            ConfigError: the file is not a job of a version this vidswap reads.
        """
        if not self.exists():
            raise InputError(f"{self.root}: not a vidswap job (no job.json); make one with vidswap run")
        try:
            data = json.loads(self.job_file.read_bytes())
        except (OSError, ValueError, RecursionError) as err:
            raise ConfigError(f"{self.job_file}: not readable as a job ({_reason(err)}); render it again with "
                              f"force", setting="force") from err
        if not isinstance(data, dict) or data.get("version") != JOB_VERSION:
            found = data.get("version") if isinstance(data, dict) else type(data).__name__
            raise ConfigError(f"{self.job_file}: job version {found!r}, this vidswap reads version {JOB_VERSION}; "
                              f"render it again with force", setting="force")
        for key, kind in _JOB_KEYS.items():
            if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
                raise ConfigError(f"{self.job_file}: {key} is missing or not a {kind.__name__} (the file was edited "
                                  f"or damaged); render it again with force", setting="force")
        if data["segment_frames"] < 1:
            raise ConfigError(f"{self.job_file}: segment_frames must be at least 1, found {data['segment_frames']}; "
                              f"render it again with force", setting="force")
        return data

    def write(self, data: Mapping[str, Any]) -> None:
        """Replace ``job.json``."""
        write_atomic(self.job_file, json.dumps({"version": JOB_VERSION, **data}, indent=2).encode())

    # arrays -----------------------------------------------------------------------------------
    def save_arrays(self, path: Path, arrays: Mapping[str, np.ndarray]) -> None:
        """Write an ``.npz`` atomically."""
        temp = temporary_path(path)
        # numpy's stub lets any str-keyed ``**kwds`` reach its ``allow_pickle: bool`` parameter.
        np.savez(temp, **arrays)  # type: ignore[arg-type]
        os.replace(temp, path)

    def load_arrays(self, path: Path) -> dict[str, np.ndarray]:
        """Read an ``.npz`` written by :meth:`save_arrays` (never unpickling anything).

        Raises:
            ConfigError: the file is missing, damaged, or holds objects.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError) as err:  # zipfile.BadZipFile is an OSError
            raise ConfigError(f"{path}: not readable as job data ({_reason(err)}); render the job again with "
                              f"force", setting="force") from err

    # the mux ---------------------------------------------------------------------------------
    mux_file = property(lambda self: self.root / "mux.json")

    def record_mux(self, output: Path, segments: list[str], matte: Path | None = None) -> None:
        """Record that ``output`` (and the matte video ``matte``) now hold these segments (their
        digests), with their own size and sha256, so a later run can tell they are still this job's."""
        record: dict[str, Any] = {"output": str(output), "segments": segments, **_file_record(output)}
        if matte is not None:
            record["matte"] = {"output": str(matte), **_file_record(matte)}
        write_atomic(self.mux_file, json.dumps(record).encode())

    def muxed(self, output: Path, matte: Path | None = None) -> list[str] | None:
        """The segments ``output`` holds when it (and the matte video ``matte``) are this job's last
        mux byte for byte (size and sha256 as recorded); None when one is missing, damaged,
        replaced, or was never muxed."""
        try:
            record = json.loads(self.mux_file.read_bytes())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(record, dict) or not _is_recorded(record, output):
            return None
        if matte is not None and not (isinstance(record.get("matte"), dict) and _is_recorded(record["matte"], matte)):
            return None
        segments = record.get("segments")
        return segments if isinstance(segments, list) else None

    # segments ---------------------------------------------------------------------------------
    def segment_file(self, segment: Segment) -> Path:
        """Where a segment's video lies."""
        return self.segments_dir / f"{segment.name}{self.suffix}"

    def marker_file(self, segment: Segment) -> Path:
        """Where a segment's completion marker lies."""
        return self.segments_dir / f"{segment.name}.json"

    def matte_file(self, segment: Segment) -> Path:
        """Where a segment's matte video lies (when the job's matte is a video)."""
        return self.segments_dir / f"{segment.name}.matte{self.matte_suffix}"

    def matte_video(self) -> bool:
        """Whether the job's matte is a video (muxed from a matte segment beside each segment)."""
        return self.matte is not None and not is_sequence_pattern(self.matte)

    def segment_digest(self, segment: Segment) -> str | None:
        """What the mux joins of a segment, hashed (its video's sha256, and its matte's); None: not done."""
        marker = self.marker(segment)
        if marker is None:
            return None
        return f"{marker['sha256']}+{marker['matte']}" if self.matte_video() and "matte" in marker else marker["sha256"]

    def mark_done(self, segment: Segment, *, frames: int, fingerprint: str) -> None:
        """Record that a segment's file (and its matte) is complete (call after verifying it)."""
        marker = {"start": segment.start, "stop": segment.stop, "frames": frames, "fingerprint": fingerprint,
                  "sha256": sha256_file(self.segment_file(segment))}
        if self.matte_video():
            marker["matte"] = sha256_file(self.matte_file(segment))
        write_atomic(self.marker_file(segment), json.dumps(marker).encode())

    def marker(self, segment: Segment) -> dict[str, Any] | None:
        """A segment's marker, or None when absent or unreadable (a torn write)."""
        try:
            return json.loads(self.marker_file(segment).read_text())
        except (OSError, ValueError):
            return None

    def state(self, segment: Segment, fingerprint: str) -> SegmentState:
        """Whether ``segment`` is done for ``fingerprint`` (see :class:`SegmentState`)."""
        marker, path = self.marker(segment), self.segment_file(segment)
        if not path.is_file():
            return SegmentState(segment, "missing")
        if (marker is None or marker.get("frames") != segment.stop - segment.start
                or (marker.get("start"), marker.get("stop")) != (segment.start, segment.stop)):
            return SegmentState(segment, "torn")
        if count_video_frames(path) != marker["frames"]:
            return SegmentState(segment, "torn")
        if self.matte_video() and (not self.matte_file(segment).is_file() or "matte" not in marker):
            return SegmentState(segment, "missing")  # e.g. a matte asked for since the segment was rendered
        if self.matte_video() and count_video_frames(self.matte_file(segment)) != marker["frames"]:
            return SegmentState(segment, "torn")
        if self.matte is not None and not self.matte_video() and not all(
                sequence_path(str(self.matte), self.first_number + index).is_file()
                for index in range(segment.start, segment.stop)):
            return SegmentState(segment, "missing")
        if self.frame_files is not None and not all(
                path.is_file() for index in range(segment.start, segment.stop) for path in self.frame_files(index)):
            return SegmentState(segment, "missing")  # e.g. a turnover asked for since the segment was rendered
        return SegmentState(segment, "done" if marker.get("fingerprint") == fingerprint else "stale")

    def discard(self, segment: Segment) -> None:
        """Remove a segment's marker, then its files (video and matte video).

        The marker goes first: never a marker without its files.
        """
        self.marker_file(segment).unlink(missing_ok=True)
        self.segment_file(segment).unlink(missing_ok=True)
        self.matte_file(segment).unlink(missing_ok=True)

    # locks ------------------------------------------------------------------------------------
    @contextmanager
    def lock(self, *, shared: bool = False) -> Iterator[None]:
        """Hold the job lock: exclusive for ``run`` (which may rewrite the job), shared for ``render``.

        Raises:
            JobLockedError: another process holds it the other way.
        """
        with _flock(self.root / "lock", shared=shared, what=f"job {self.root}",
                    hint="another vidswap run or render is working on it; wait for it to finish"):
            yield

    @contextmanager
    def segment_lock(self, segment: Segment) -> Iterator[None]:
        """Hold a segment's lock while rendering it.

        Raises:
            JobLockedError: another process renders this segment.
        """
        with _flock(self.segments_dir / f"{segment.name}.lock", shared=False,
                    what=f"segment {segment.index} of job {self.root}",
                    hint="another process renders it; give each render node its own segments"):
            yield

    @contextmanager
    def mux_lock(self) -> Iterator[None]:
        """Hold the mux lock (one mux of the job at a time).

        Raises:
            JobLockedError: another process muxes the job.
        """
        with _flock(self.root / "mux.lock", shared=False, what=f"the mux of job {self.root}",
                    hint="another process writes the output now"):
            yield


@contextmanager
def _flock(path: Path, *, shared: bool, what: str, hint: str) -> Iterator[None]:
    with open(path, "a+") as file:
        try:
            fcntl.flock(file.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise JobLockedError(f"{what} is locked ({path}): {hint}") from err
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


def _file_record(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": sha256_file(path)}


def _is_recorded(record: Mapping[str, Any], path: Path) -> bool:
    """Whether ``record`` (of :meth:`JobStore.record_mux`) is of ``path`` as it is now."""
    return (record.get("output") == str(path) and path.is_file() and path.stat().st_size == record.get("size")
            and sha256_file(path) == record.get("sha256"))


def count_video_frames(path: Path) -> int:
    """Video packets in a segment file (-1 when it cannot be read: a torn file)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return sum(1 for packet in container.demux(stream) if packet.size)
    except (av.FFmpegError, IndexError, OSError):
        return -1
