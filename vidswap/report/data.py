"""Everything a report shows: gathered from a job's stored state (no render, no detection), or
from a streaming run's own measures as it ends.

:func:`load_report` reads the job (``job.json``, its probe of the input), the face pass's counts,
the render's measures of each segment still current (a segment rendered again since drops its
old measures), and the weights' licences from the cache's records. What is not there becomes one
line in :attr:`ReportData.missing`, never an error: a job made before the QC data existed, or a
render that did not measure, still gets a report of what it has. :func:`stream_report` takes
the same numbers from a streaming run (which keeps no state) when it finishes.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidswap import __version__
from vidswap.errors import InputError, VidswapError
from vidswap.io.timecode import shift_timecode
from vidswap.pipeline.qc import FaceStats, RenderQCData, load_face_stats, load_render_qc, segment_qc_file

if TYPE_CHECKING:
    from vidswap.io.probe import MediaInfo
    from vidswap.jobs.job import Job
    from vidswap.pipeline.model import ModelFiles
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.spec import PipelineSpec

__all__ = ["WeightFile", "Header", "ReportData", "Shot", "find_report_job", "load_report", "stream_report",
           "RANDOM_NOTE"]

#: What the report says instead of identity figures made with a random test model.
RANDOM_NOTE = "identity figures meaningless: random test weights"


@dataclass(frozen=True)
class WeightFile:
    """One weight file of the render: name, path, licence, where it came from, sha256 (job.json's)."""

    name: str
    path: str
    licence: str
    source: str
    sha256: str | None


@dataclass(frozen=True)
class Header:
    """The report's header.

    Attributes:
        input, output: the files.
        first, frames: the first input index rendered and how many frames.
        fps: the input's frame rate (exact).
        start_timecode: the timecode of the first rendered frame.
        duration: seconds rendered (``frames / fps``).
        model: the model reference (path or name; ``defaults``: the manifest's set).
        weights: each weight file with its licence.
        settings: the resolved pipeline; ``settings_hash`` its sha256 (canonical JSON).
        version: the vidswap that makes the report; ``made_with`` what the output's tag names.
        render_seconds, render_fps: the render's wall time and speed (None: not recorded).
        random_weights: the model is a random test initialisation (None: unknown).
    """

    input: str
    output: str
    first: int
    frames: int
    fps: Fraction
    start_timecode: str
    duration: float
    model: str
    weights: tuple[WeightFile, ...]
    settings: dict[str, Any]
    settings_hash: str
    version: str
    made_with: str | None
    render_seconds: float | None
    render_fps: float | None
    random_weights: bool | None


@dataclass(frozen=True)
class Shot:
    """What a report is about: the input as probed and the output (the contact sheet reads both)."""

    input: Path
    info: MediaInfo
    output: Path


@dataclass(frozen=True)
class ReportData:
    """The numbers of one report.

    Attributes:
        header: the header.
        stats: the face pass's counts (None: not stored).
        render: the render's measures of the segments that have them (None: none has).
        missing: section -> why it is missing or partial, one line each.
        rate: the timecode rate; ``zero`` the timecode of input index 0.
    """

    header: Header
    stats: FaceStats | None
    render: RenderQCData | None
    missing: dict[str, str]
    rate: Fraction
    zero: str
    _timecodes: dict[int, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def indices(self) -> range:
        """The rendered frames' input indices."""
        return range(self.header.first, self.header.first + self.header.frames)

    def timecode(self, index: int) -> str:
        """The timecode of input index ``index``."""
        if index not in self._timecodes:
            self._timecodes[index] = shift_timecode(self.zero, index, self.rate)
        return self._timecodes[index]

    def per_frame(self, name: str) -> np.ndarray:
        """One measure per rendered frame (float, NaN where unknown): ``detected``, ``tracked``,
        ``swapped``, ``filled``, ``not_swapped``, ``cut``, ``jitter_raw``, ``jitter_smooth``
        (face pass), ``identity`` (lowest of the frame's faces), ``coverage`` (render)."""
        out = np.full(self.header.frames, np.nan)
        first = self.header.first
        if name in ("identity", "coverage"):
            if self.render is None or (name == "identity" and self.header.random_weights):
                return out
            if name == "coverage":
                at = self.render.frame - first
                keep = (at >= 0) & (at < len(out))
                out[at[keep]] = self.render.coverage[keep]
                return out
            at = self.render.face_frame - first
            for position, value in zip(at, self.render.identity, strict=True):
                if 0 <= position < len(out) and not math.isnan(value):
                    out[position] = np.fmin(out[position], value)
            return out
        if self.stats is None:
            return out
        values = self.stats.not_swapped if name == "not_swapped" else getattr(self.stats, name)
        offset = first - self.stats.first
        part = np.asarray(values, np.float64)[offset:offset + len(out)]
        out[:len(part)] = part
        return out

    def frame_rows(self) -> list[dict[str, Any]]:
        """Every rendered frame with its numbers (``--json``)."""
        names = ("detected", "tracked", "swapped", "filled", "not_swapped", "cut", "jitter_raw", "jitter_smooth",
                 "identity", "coverage")
        columns = {name: self.per_frame(name) for name in names}
        counts = {"detected", "tracked", "swapped", "filled", "not_swapped"}
        rows = []
        for position, index in enumerate(self.indices):
            row: dict[str, Any] = {"frame": index, "timecode": self.timecode(index)}
            for name in names:
                value = float(columns[name][position])
                if math.isnan(value):
                    row[name] = None
                elif name == "cut":
                    row[name] = bool(value)
                else:
                    row[name] = int(value) if name in counts else round(value, 6)
            rows.append(row)
        return rows

    def track_rows(self) -> list[dict[str, Any]]:
        """Every track with its numbers (``--json``); identity figures with trained weights only."""
        if self.stats is None:
            return []
        s = self.stats
        rows = []
        for i, track in enumerate(s.track_id.tolist()):
            row: dict[str, Any] = {"track": track, "first": int(s.track_first[i]), "last": int(s.track_last[i]),
                                   "filled": int(s.track_filled[i]), "swapped": bool(s.track_swapped[i]),
                                   "jitter_raw": _number(s.track_jitter_raw[i]),
                                   "jitter_smooth": _number(s.track_jitter_smooth[i])}
            if self.render is not None:
                mine = self.render.face_track == track
                identity = self.render.identity[mine]
                coverage = self.render.face_coverage[mine]
                shown = identity.size and not self.header.random_weights
                row["identity_mean"] = _number(np.nanmean(identity)) if shown else None
                row["identity_min"] = _number(np.nanmin(identity)) if shown else None
                row["face_coverage_mean"] = _number(np.nanmean(coverage)) if coverage.size else None
            rows.append(row)
        return rows

    def header_json(self) -> dict[str, Any]:
        """The header as JSON data."""
        h = self.header
        return {"input": h.input, "output": h.output, "first_frame": h.first, "frames": h.frames,
                "fps": str(h.fps), "start_timecode": h.start_timecode, "duration": round(h.duration, 6),
                "model": h.model, "weights": [w.__dict__ for w in h.weights], "settings_hash": h.settings_hash,
                "settings": h.settings, "version": h.version, "made_with": h.made_with,
                "render_seconds": h.render_seconds, "render_fps": h.render_fps, "random_weights": h.random_weights,
                "identity_note": RANDOM_NOTE if h.random_weights else None}


def _number(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def find_report_job(target: Path) -> Path:
    """The job folder of ``target``: a job folder, its ``job.json``, or a job's output.

    Raises:
        InputError: no job there (a streaming run keeps no state to report on).
    """
    from vidswap.jobs.job import default_job_dir, find_job

    found = find_job(target) or find_job(default_job_dir(target))
    if found is None:
        raise InputError(f"{target}: no vidswap job here or beside it ({default_job_dir(target).name}); a report is "
                         f"made from a job's stored state, and a streaming run (no job) keeps none")
    return found


def load_report(target: Path, job: Job | None = None) -> tuple[ReportData, Shot]:
    """Gather the report of the job of ``target`` (see :func:`find_report_job`), or of ``job``,
    the job as a run just left it (not loaded, nor its input probed, again).

    Raises:
        InputError: no job. ConfigError: an unreadable job.
    """
    from vidswap.jobs.job import load_job
    from vidswap.jobs.store import JobStore

    job = job or load_job(JobStore(find_report_job(target)))
    missing: dict[str, str] = {}
    stats = _face_stats(job, missing)
    render = _render_qc(job, missing)
    weights, random_from_files = _weights(job.spec, job.data["hashes"], missing)
    data = _gather(job.spec, job.schedule, job.output, job.data["pipeline"], stats=stats, render=render,
                   weights=weights, random=render.random_weights if render is not None else random_from_files,
                   missing=missing)
    return data, Shot(job.spec.input.path, job.schedule.info, job.output)


def stream_report(spec: PipelineSpec, schedule: Schedule, output: Path, *, stats: FaceStats | None,
                  render: RenderQCData | None, files: ModelFiles | None) -> tuple[ReportData, Shot]:
    """Gather the report of a streaming run that just wrote ``output`` from its own measures (the
    face pass's ``stats``, the render's ``render``) and its weight ``files``."""
    from vidswap.pipeline.qc import random_weights

    missing: dict[str, str] = {}
    if stats is None:
        missing["face pass"] = "face pass counts: not measured by this run"
    if render is None:
        missing["render"] = "identity similarity, mask coverage and matte thumbnails: not measured by this run"
    weights = () if files is None else tuple(WeightFile(name=w.name, path=str(w.path), licence=w.licence,
                                                        source=w.source, sha256=None) for w in files.all)
    data = _gather(spec, schedule, output, json.loads(spec.to_json()), stats=stats, render=render, weights=weights,
                   random=random_weights(files) if files is not None else None, missing=missing)
    return data, Shot(spec.input.path, schedule.info, output)


def _gather(spec: PipelineSpec, schedule: Schedule, output: Path, pipeline: dict[str, Any], *,
            stats: FaceStats | None, render: RenderQCData | None, weights: tuple[WeightFile, ...],
            random: bool | None, missing: dict[str, str]) -> ReportData:
    """The report of a render of ``schedule``'s frames to ``output`` (``pipeline``: its settings)."""
    info, frames = schedule.info, schedule.frames
    rate = info.timecode_rate
    zero = info.timecode or "00:00:00:00"
    seconds = render.seconds if render is not None and len(render.frame) == frames.count else None
    if seconds is None:
        missing.setdefault("render time", "render time: not recorded (the render's measures of every frame "
                                          "are needed)")
    header = Header(
        input=str(spec.input.path), output=str(output), first=frames.start, frames=frames.count,
        fps=info.video.rate, start_timecode=shift_timecode(zero, frames.start, rate),
        duration=float(frames.count / info.video.rate), model=str(spec.model.weights or "defaults"),
        weights=weights, settings=pipeline,
        settings_hash=hashlib.sha256(json.dumps(pipeline, sort_keys=True).encode()).hexdigest(),
        version=__version__, made_with=_made_with(output), render_seconds=seconds,
        render_fps=frames.count / seconds if seconds else None, random_weights=random)
    return ReportData(header=header, stats=stats, render=render, missing=missing, rate=rate, zero=zero)


def _face_stats(job: Job, missing: dict[str, str]) -> FaceStats | None:
    try:
        stats = load_face_stats(job.store.root)
    except (OSError, ValueError, KeyError) as err:
        missing["face pass"] = f"face pass counts: unreadable ({err}); render the job again with force"
        return None
    if stats is None:
        missing["face pass"] = ("face pass counts (detections, tracks, filled frames, jitter, cuts): not stored by the "
                                "job that rendered this; render it again with force to record them")
    return stats


def _render_qc(job: Job, missing: dict[str, str]) -> RenderQCData | None:
    """The render measures of the segments rendered with the job's current settings."""
    parts, absent = [], []
    for segment, fingerprint in zip(job.segments, job.fingerprints, strict=True):
        path = segment_qc_file(job.store.segment_file(segment))
        if job.store.state(segment, fingerprint).state != "done":
            absent.append(segment.index)
            continue
        try:
            part = load_render_qc(path)
        except (OSError, ValueError, KeyError):
            absent.append(segment.index)
            continue
        if part.fingerprint != fingerprint:
            absent.append(segment.index)
            continue
        parts.append(part)
    what = "identity similarity, mask coverage and matte thumbnails"
    if not parts:
        missing["render"] = f"{what}: not measured by the render of this job (its render recorded no QC data)"
        return None
    if absent:
        missing["render"] = (f"{what}: not measured in segment(s) {', '.join(map(str, absent))} (not rendered, "
                             f"rendered without QC data, or rendered again since)")
    return RenderQCData.join(parts)


def _weights(spec: PipelineSpec, hashes: dict[str, str], missing: dict[str, str]
             ) -> tuple[tuple[WeightFile, ...], bool | None]:
    """A job's weight files with their licences (from the cache's records and the files' own
    provenance; offline) and the sha256 the job recorded, and whether the model is a random
    initialisation."""
    import os

    from vidswap.pipeline.model import resolve_model
    from vidswap.pipeline.qc import random_weights
    from vidswap.weights.cache import CacheSettings
    from vidswap.weights.manifest import load_manifest

    try:
        files = resolve_model(spec.model.weights, cache=CacheSettings.from_environ(os.environ),
                              manifest=load_manifest(), offline=True, progress=False)
    except VidswapError as err:
        missing["weights"] = f"weight licences: the weights are not on this machine now ({str(err).splitlines()[0]})"
        return (), None
    found = tuple(WeightFile(name=w.name, path=str(w.path), licence=w.licence, source=w.source,
                             sha256=hashes.get(str(Path(w.path).resolve()))) for w in files.all)
    return found, random_weights(files)


def _made_with(output: Path) -> str | None:
    """What the output's container tag says made it (``encoder_software``), or None."""
    import av

    try:
        with av.open(str(output)) as container:
            tags = {key.lower(): value for key, value in container.metadata.items()}  # Matroska: upper case
            return tags.get("encoder_software")
    except (OSError, av.error.FFmpegError):
        return None
