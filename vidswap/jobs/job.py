"""A render as a job: prepare once (hashes, face analysis, identities), render the segments that
are not done, and mux them into the output.

The steps of :func:`run_job`, under the job's exclusive lock:

1. resolve the weights and check input and output,
2. refuse a job whose recorded input, photos or weights changed (unless ``force``),
3. the face pass and the source identities, only when what they depend on changed
   (a mask or encode change re-renders without re-detecting),
4. write ``job.json`` and plan the segments; a segment is pending when it is missing, torn,
   or was rendered with other settings or faces (its fingerprint differs),
5. render the pending segments on an executor (local or Ray),
6. mux the segments with the original audio into the output (temporary file + rename).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidswap.errors import ConfigError, JobChangedError
from vidswap.jobs.segments import Segment, plan_segments, touched
from vidswap.jobs.store import JobStore, sha256_file

if TYPE_CHECKING:
    from vidswap.jobs.executors import Executor
    from vidswap.pipeline.analysis import FaceToSwap
    from vidswap.pipeline.runner import RunOptions
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.spec import PipelineSpec

__all__ = ["DEFAULT_SEGMENT_FRAMES", "Job", "JobSummary", "default_job_dir", "load_job", "find_job", "run_job",
           "mux_job", "with_range_override", "job_report"]

#: Frames per segment unless ``--segment-frames`` says otherwise.
DEFAULT_SEGMENT_FRAMES = 48
# Sections of a pipeline that a frame-range override may change (what OverrideSpec holds).
_RANGE_SECTIONS = ("swaps", "model", "detector", "smoothing", "mask", "watermark")


def default_job_dir(output: Path) -> Path:
    """``OUTPUT.vidswap-job`` beside the output."""
    return output.with_name(output.name + ".vidswap-job")


def find_job(path: Path) -> Path | None:
    """The job directory ``path`` names (the directory or its ``job.json``), or None."""
    root = path.parent if path.name == "job.json" else path
    return root if JobStore(root).exists() else None


@dataclass(frozen=True)
class Job:
    """A job as read from its directory.

    Attributes:
        store: its files.
        spec: the resolved pipeline, with its overrides.
        schedule: the settings per frame.
        segments: the plan.
        fingerprints: per segment, what its pixels depend on (hashed).
        faces: the face analysis (frame index -> faces to swap).
        data: ``job.json``.
    """

    store: JobStore
    spec: PipelineSpec
    schedule: Schedule
    segments: list[Segment]
    fingerprints: list[str]
    faces: Mapping[int, tuple[FaceToSwap, ...]]
    data: Mapping[str, Any]

    def states(self) -> list[str]:
        """Each segment's state: done, stale, torn or missing."""
        return [self.store.state(s, f).state for s, f in zip(self.segments, self.fingerprints)]


@dataclass(frozen=True)
class JobSummary:
    """What a job run did.

    Attributes:
        job: the job directory.
        output: the muxed output (None when segments are still missing).
        segments: segments in the job.
        rendered: numbers of the segments rendered now.
        frames: frames rendered now.
        faces_swapped: faces replaced in the rendered frames.
        analysed: whether the face pass ran (False: the stored analysis was reused).
        seconds: wall time.
        stage_seconds: wall time per step.
    """

    job: Path
    output: Path | None
    segments: int
    rendered: list[int]
    frames: int
    faces_swapped: int
    analysed: bool
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)


def _validate(data: dict[str, Any], origins: Mapping[Any, str] | None = None) -> PipelineSpec:
    from vidswap.pipeline.load import validate_data

    return validate_data(data, origins or {}, None, Path.cwd())


def load_job(store: JobStore) -> Job:
    """Read a job: its pipeline, probed input, face analysis, segment plan and fingerprints.

    Raises:
        InputError: no job there. ConfigError: an unreadable job.
    """
    from vidswap.io.probe import probe
    from vidswap.jobs.render import faces_from_arrays, segment_fingerprint
    from vidswap.pipeline.schedule import Schedule

    data = store.read()
    spec = _validate(data["pipeline"])
    store = JobStore(store.root, codec=spec.encode.codec)
    schedule = Schedule.of(spec, probe(spec.input.path, rate=spec.input.fps))
    faces = faces_from_arrays(store.load_arrays(store.faces_file))
    segments = plan_segments(schedule.frames, data["segment_frames"])
    fingerprints = [segment_fingerprint(schedule, faces, s, data["base"]) for s in segments]
    return Job(store, spec, schedule, segments, fingerprints, faces, data)


def with_range_override(spec: PipelineSpec, frames: str, values: Mapping[str, Any],
                        names: Mapping[str, str] | None = None) -> PipelineSpec:
    """``spec`` with one more override: ``values`` (dotted keys) for the frames ``frames``.

    Only the sections an override holds (swaps, model, detector, smoothing, mask, watermark)
    may change for a range; the rest (input, output, encode, ...) is the whole job's.

    Raises:
        ConfigError: nothing changes, or a value is outside those sections.
    """
    from vidswap.pipeline.overrides import apply_options

    before = json.loads(spec.to_json())
    changed, origins = apply_options(before, values, names)
    after = json.loads(_validate(changed, origins).to_json())
    outside = sorted(k for k in after if k not in (*_RANGE_SECTIONS, "overrides") and after[k] != before[k])
    if outside:
        raise ConfigError(f"--frames {frames}: {', '.join(outside)} cannot change for a frame range (only "
                          f"{', '.join(_RANGE_SECTIONS)}); render the whole job with the new value instead")
    sections = {k: after[k] for k in _RANGE_SECTIONS if after[k] != before[k]}
    if not sections:
        raise ConfigError(f"--frames {frames} on an existing job records an override for those frames: give "
                          f"a changed setting too (e.g. --set mask.blur=0.05 or --no-refine)")
    if "model" in sections and {**after["model"], "refine": None} != {**before["model"], "refine": None}:
        raise ConfigError(f"--frames {frames}: of the model only refine (--no-refine) can change for a frame "
                          f"range; the model, device and batch size are the whole job's")
    return _validate({**before, "overrides": [*before["overrides"], {"frames": frames, **sections}]})


def _analysis_key(spec: PipelineSpec, hashes: Mapping[str, str]) -> str:
    """What the face pass and the identities depend on, hashed (not mask, encode or watermark)."""
    data = json.loads(spec.to_json())
    kept = {k: data[k] for k in ("input", "frames", "sources", "swaps", "detector", "smoothing")}
    kept["model"] = {k: data["model"][k] for k in ("name", "path")}
    kept["overrides"] = [{k: o[k] for k in ("frames", "swaps", "detector", "smoothing")} for o in data["overrides"]
                         if any(o[k] is not None for k in ("swaps", "detector", "smoothing"))]
    return hashlib.sha256(json.dumps([kept, sorted(hashes.items())], sort_keys=True).encode()).hexdigest()


def _hashed_files(spec: PipelineSpec, weights: Sequence[Path]) -> list[Path]:
    photos = [p.path for photos in spec.sources.values() for p in photos]
    photos += [p.path for s in (spec, *spec.overrides) for swap in (s.swaps or ()) for p in swap.target.photos]
    files = [spec.input.path, *photos, *weights]
    return list(dict.fromkeys(Path(f).resolve() for f in files if Path(f).is_file()))


def _check_unchanged(recorded: Mapping[str, str], root: Path) -> None:
    for name, digest in recorded.items():
        path = Path(name)
        if not path.is_file():
            raise JobChangedError(f"{path}: used by job {root} but missing now; restore it, or pass --force "
                                  f"to render the job again from what is there")
        if sha256_file(path) != digest:
            raise JobChangedError(f"{path}: changed since job {root} was made (sha256 differs); pass --force to "
                                  f"render the job again with the new file, or restore the old one")


def run_job(spec: PipelineSpec, root: Path, *, segment_frames: int | None = None, force: bool = False,
            executor: Executor | None = None, options: RunOptions | None = None) -> JobSummary:
    """Make or resume the job of ``spec`` in ``root`` and render it (steps: module docstring).

    Args:
        spec: the pipeline (a video output; matte and image-sequence outputs are not jobs).
        root: the job directory (made when missing).
        segment_frames: frames per segment (None: the job's, or :data:`DEFAULT_SEGMENT_FRAMES`).
        force: accept changed inputs or weights (the stale segments are rendered again).
        executor: where segments render (None: in this process).
        options: how to run (model/detector injection, progress, offline).

    Returns:
        What was done; ``output`` is set once every segment exists and the mux ran.

    Raises:
        JobLockedError: another process works on the job. JobChangedError: inputs changed.
        VidswapError: any other problem; the output path never holds a partial file.
    """
    from vidswap.pipeline.runner import RunOptions

    options = options or RunOptions()
    if spec.output.path is None or spec.matte is not None or spec.output.sequence is not None:
        raise ConfigError("a job renders one video output: matte and image-sequence outputs are rendered "
                          "without a job (vidswap run --no-job)")
    started = time.perf_counter()
    store = JobStore(root, codec=spec.encode.codec)
    fresh = not root.exists()
    store.create()
    try:
        return _run_locked(spec, store, root, started=started, segment_frames=segment_frames, force=force,
                           executor=executor, options=options)
    except BaseException:
        if fresh and not store.exists():  # failed before the job was made: leave nothing behind
            shutil.rmtree(root, ignore_errors=True)
        raise


def _run_locked(spec: PipelineSpec, store: JobStore, root: Path, *, started: float, segment_frames: int | None,
                force: bool, executor: Executor | None, options: RunOptions) -> JobSummary:
    """The body of :func:`run_job`, under the job's exclusive lock."""
    from vidswap.jobs.executors import LocalExecutor
    from vidswap.pipeline.runner import check_io, resolve_weights

    steps: dict[str, float] = {}
    with store.lock():
        for temp in store.segments_dir.glob(".*"):  # temporaries of a killed render
            temp.unlink(missing_ok=True)
        old = store.read() if store.exists() else None
        if old is not None and not force:
            _check_unchanged(old["hashes"], root)
        files = resolve_weights(spec, options)
        owned = old is not None and old["pipeline"]["output"]["path"] == str(spec.output.path)
        check_io(spec.model_copy(update={"output": spec.output.model_copy(update={"overwrite": True})})
                 if owned else spec)
        weights = [w.path for w in files.all] if files is not None else []
        hashes = {str(p): sha256_file(p) for p in _hashed_files(spec, weights)}
        steps["prepare"] = time.perf_counter() - started

        mark = time.perf_counter()
        key = _analysis_key(spec, hashes)
        bundle = options.model
        analysed = old is None or old.get("analysis") != key or not store.faces_file.is_file()
        if analysed:
            bundle = _analyse(spec, store, files, options)
        ids = store.load_arrays(store.identities_file)
        base = hashlib.sha256(json.dumps([sorted(hashes.items()), key]).encode()
                              + b"".join(ids[k].tobytes() for k in sorted(ids))).hexdigest()
        size = segment_frames or (old or {}).get("segment_frames") or DEFAULT_SEGMENT_FRAMES
        store.write({"pipeline": json.loads(spec.to_json()), "hashes": hashes, "analysis": key, "base": base,
                     "segment_frames": size})
        job = load_job(store)
        steps["faces"] = time.perf_counter() - mark

        mark = time.perf_counter()
        pending = [s.index for s, state in zip(job.segments, job.states()) if state != "done"]
        executor = executor or LocalExecutor(model=bundle, queue_size=options.queue_size,
                                             progress=options.progress)
        results = executor.render(root, pending) if pending else []
        steps["render"] = time.perf_counter() - mark

        mark = time.perf_counter()
        output = mux_job(job) if all(state == "done" for state in job.states()) else None
        steps["mux"] = time.perf_counter() - mark
    return JobSummary(job=root, output=output, segments=len(job.segments),
                      rendered=[r.index for r in results if not r.skipped],
                      frames=sum(r.frames for r in results), faces_swapped=sum(r.faces_swapped for r in results),
                      analysed=analysed, seconds=time.perf_counter() - started, stage_seconds=steps)


def _analyse(spec: PipelineSpec, store: JobStore, files: Any, options: RunOptions) -> Any:
    """Step 3: face pass and identities of the whole render, stored; returns the loaded model."""
    from vidswap.jobs.render import faces_to_arrays
    from vidswap.pipeline.model import load_model
    from vidswap.pipeline.runner import Detectors, check_io, embed_photos, face_pass
    from vidswap.pipeline.swap import Swapper, resolve_device

    schedule = check_io(spec.model_copy(update={"output": spec.output.model_copy(update={"overwrite": True})}))
    device = resolve_device(spec.model.device)
    bundle = options.model if options.model is not None else load_model(files, device=device)
    swapper = Swapper(bundle, refine=spec.model.refine, device=device, precision=spec.model.precision)
    detectors = Detectors(schedule, device, options.detector)
    identities, references = embed_photos(spec, schedule, detectors.photos, swapper)
    analysis = face_pass(spec, schedule, detectors, swapper, references, options)
    store.save_arrays(store.identities_file, {k: v.float().cpu().numpy() for k, v in identities.items()})
    store.save_arrays(store.faces_file, faces_to_arrays(analysis.faces))
    return bundle


def mux_job(job: Job) -> Path:
    """Join the job's segments and the input's audio of the rendered range into the output.

    Skipped when the output already holds exactly these segments (``mux.json``).
    """
    from vidswap.jobs.mux import mux_segments
    from vidswap.jobs.store import write_atomic
    from vidswap.pipeline.runner import provenance_tags

    output = job.spec.output.path
    record = job.store.root / "mux.json"
    state = {"output": str(output), "segments": [job.store.marker(s)["sha256"] for s in job.segments]}
    if output.is_file() and record.is_file() and json.loads(record.read_text()) == state:
        return output
    with job.store.mux_lock():
        mux_segments([job.store.segment_file(s) for s in job.segments], job.segments, info=job.schedule.info,
                     frames=job.schedule.frames, output=output, copy_streams=job.spec.encode.audio == "copy",
                     metadata=provenance_tags())
        write_atomic(record, json.dumps(state).encode())
    return output


def job_report(job: Job) -> dict[str, Any]:
    """What ``vidswap job show`` prints: the job, its overrides and each segment's state."""
    states = job.states()
    return {"job": str(job.store.root), "input": str(job.spec.input.path), "output": str(job.spec.output.path),
            "frames": str(job.schedule.frames), "segment_frames": job.data["segment_frames"],
            "output_done": (job.store.root / "mux.json").is_file() and job.spec.output.path.is_file()
            and all(s == "done" for s in states),
            "overrides": [{"frames": str(o.frames),
                           "changes": [k for k in _RANGE_SECTIONS if getattr(o, k) is not None],
                           "segments": [s.index for s in touched(job.segments, rng)]}
                          for o, (rng, _) in zip(job.spec.overrides, job.schedule.overrides)],
            "segments": [{"index": s.index, "frames": f"{s.start}-{s.stop - 1}", "state": state}
                         for s, state in zip(job.segments, states)],
            "counts": {k: states.count(k) for k in ("done", "stale", "torn", "missing")}}
