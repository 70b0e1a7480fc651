"""A render as a job: prepare once (hashes, face analysis, identities), render the segments that
are not done, and mux them into the output.

The steps of :func:`run_job`, under the job's exclusive lock:

1. check the output, open the render session (weights resolved, input probed, schedule),
2. refuse a job whose recorded input, photos or weights changed (unless ``force``),
3. the face pass and the source identities, only when what they depend on changed
   (a mask or encode change re-renders without re-detecting),
4. write ``job.json`` and plan the segments; a segment is pending when it is missing, torn,
   or was rendered with other settings or faces (its fingerprint differs),
5. render the pending segments on an executor (local or Ray),
6. join the segments and the original audio into the output (:func:`vidswap.io.concat.concat_segments`:
   no re-encode, temporary file + rename).
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

from vidswap.errors import ConfigError, JobChangedError, MediaError, OutputExistsError
from vidswap.jobs.segments import Segment, plan_segments, touched
from vidswap.jobs.store import JobStore, sha256_file

if TYPE_CHECKING:
    from vidswap.jobs.executors import Executor
    from vidswap.pipeline.analysis import FaceToSwap
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.session import RunOptions
    from vidswap.pipeline.spec import OverrideSpec, PipelineSpec

__all__ = ["DEFAULT_SEGMENT_FRAMES", "JOB_KEYS", "Job", "JobSummary", "SliceSummary", "RunPlan", "default_job_dir",
           "load_job", "find_job", "stream_only", "changed_files", "plan_run", "job_spec", "run_job", "render_slice",
           "mux_job", "with_range_override", "job_report", "clean_job"]

#: Frames per segment unless the job's ``segment_frames`` says otherwise.
DEFAULT_SEGMENT_FRAMES = 48
#: Keys of a pipeline that are a job's identity: repeating them on an existing job is no change.
JOB_KEYS = ("input", "output.path", "sources", "frames")


def default_job_dir(output: Path) -> Path:
    """``OUTPUT.vidswap-job`` beside the output."""
    return output.with_name(output.name + ".vidswap-job")


def find_job(path: Path) -> Path | None:
    """The job directory ``path`` names (the directory or its ``job.json``), or None."""
    root = path.parent if path.name == "job.json" else path
    return root if JobStore(root).exists() else None


def stream_only(spec: PipelineSpec) -> str | None:
    """Why ``spec`` cannot render as a job (its outputs stream straight through), or None."""
    if spec.output.path is None or spec.output.sequence is not None:
        return "image-sequence outputs are"
    return None


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

    @property
    def output(self) -> Path:
        """The video the job renders (a job always has one: :func:`stream_only`)."""
        path = self.spec.output.path
        if path is None:
            raise ConfigError(f"{self.store.job_file}: the job's pipeline has no output.path; make the job again")
        return path

    def states(self) -> list[str]:
        """Each segment's state: done, stale, torn or missing."""
        return [self.store.state(s, f).state for s, f in zip(self.segments, self.fingerprints, strict=True)]


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
        frames_without_face: frames rendered now with no face swapped.
        analysed: whether the face pass ran (False: the stored analysis was reused).
        seconds: wall time.
        stage_seconds: wall time per step.
        state: the job as it ran (pipeline, schedule, segments), for what follows the run (the
            QC report) without loading and probing it again.
    """

    job: Path
    output: Path | None
    segments: int
    rendered: list[int]
    frames: int
    faces_swapped: int
    frames_without_face: int
    analysed: bool
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    state: Job | None = field(default=None, compare=False, repr=False)

    @property
    def fps(self) -> float:
        """Frames rendered now per second of the whole run (as a streaming run's summary counts them)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _validate(data: dict[str, Any], origins: Mapping[Any, str] | None = None) -> PipelineSpec:
    from vidswap.pipeline.load import validate_data

    return validate_data(data, origins or {}, None, Path.cwd())


def load_job(store: JobStore) -> Job:
    """Read a job: its pipeline (validated once), probed input (once), face analysis, segment
    plan and fingerprints.

    Raises:
        InputError: no job there. ConfigError: an unreadable job.
    """
    from vidswap.io.probe import probe
    from vidswap.pipeline.schedule import Schedule

    data = store.read()
    _check_absolute(data["pipeline"], store.job_file)
    spec = _validate(data["pipeline"])
    return _job(store, spec, Schedule.of(spec, probe(spec.input.path, rate=spec.input.fps)), data)


#: The keys of a resolved pipeline that hold paths.
_PATH_KEYS = ("path", "sequence", "matte", "model_root", "dir")


def _check_absolute(pipeline: Any, job_file: Path, where: str = "pipeline") -> None:
    """Refuse a relative path in a job's pipeline: vidswap stores absolute ones, so a relative path
    means the file was edited, and it would resolve against whatever folder the command runs in."""
    if isinstance(pipeline, dict):
        for key, value in pipeline.items():
            if key in _PATH_KEYS and isinstance(value, str) and not Path(value).is_absolute():
                raise ConfigError(f"{job_file}: {where}.{key} is a relative path ({value!r}); a job stores absolute "
                                  f"paths, so the file was edited: render the job again with force", setting="force")
            _check_absolute(value, job_file, f"{where}.{key}")
    elif isinstance(pipeline, list):
        for index, value in enumerate(pipeline):
            _check_absolute(value, job_file, f"{where}.{index}")


def _job(store: JobStore, spec: PipelineSpec, schedule: Schedule, data: Mapping[str, Any]) -> Job:
    """A job from its already validated pipeline and resolved schedule."""
    from vidswap.io.sequence import plate_number
    from vidswap.jobs.render import faces_from_arrays, segment_fingerprint

    frame_files = None
    if spec.turnover is not None:
        from vidswap.pipeline.turnover import TurnoverLayers

        frame_files = TurnoverLayers(spec.turnover.dir, info=schedule.info, layer_format=spec.turnover.format).paths
    store = JobStore(store.root, codec=spec.encode.codec, matte=spec.matte,
                     first_number=plate_number(schedule.info, 0), frame_files=frame_files)
    faces = faces_from_arrays(store.load_arrays(store.faces_file))
    segments = plan_segments(schedule.frames, data["segment_frames"])
    fingerprints = [segment_fingerprint(schedule, faces, s, data["base"]) for s in segments]
    return Job(store, spec, schedule, segments, fingerprints, faces, data)


@dataclass(frozen=True)
class RunPlan:
    """How ``vidswap run`` renders: the pipeline, and the job it renders as.

    Attributes:
        spec: the pipeline to render.
        job: the job directory (None: stream straight to the outputs).
        resumes: the job exists already (its output is its own earlier render).
        kept: overrides the job recorded (range fixes) that the command did not repeat, kept.
    """

    spec: PipelineSpec
    job: Path | None
    resumes: bool = False
    kept: tuple[OverrideSpec, ...] = ()


def plan_run(spec: PipelineSpec | None, *, job: Path | None = None, no_job: bool = False,
             values: Mapping[str, Any] | None = None, names: Mapping[str, str] | None = None,
             frames: str | None = None) -> RunPlan:
    """Decide between a job and a streaming run, and the pipeline of an existing job.

    Args:
        spec: the pipeline a command describes (None: it named the existing job ``job``).
        job: the job directory (None: ``OUTPUT.vidswap-job``).
        no_job: stream straight to the outputs.
        values, names: the command's settings (dotted keys) and the options they came from.
        frames: a frame range given with them: on an existing job, they become an override of
            that range (:func:`job_spec`).

    Returns:
        A job whenever the outputs allow one (:func:`stream_only`) and ``no_job`` is not set. On an
        existing job the command's pipeline keeps the overrides the job recorded (range fixes made
        since), so running the first command again never drops one.

    Raises:
        OutputExistsError: the command names the job's output but other input, sources or frames
            (without ``output.overwrite``, which renders the job again as the command says).
    """
    values = values or {}
    if spec is None:
        if job is None:
            raise ConfigError("plan_run: give a pipeline or the job it renders")
        spec = job_spec(job, values, names, frames)
        return RunPlan(spec, None if no_job else job, resumes=not no_job)
    if no_job or stream_only(spec) is not None:
        return RunPlan(spec, None)
    assert spec.output.path is not None  # stream_only: a video output
    root = job or default_job_dir(spec.output.path)
    if find_job(root) is None:
        return RunPlan(spec, root)
    data = JobStore(root).read()["pipeline"]
    if frames is not None and not _is_job_range(frames, data):
        return RunPlan(job_spec(root, values, names, frames), root, resumes=True)
    recorded = _validate(data)
    mine, theirs = _identity(spec), _identity(recorded)
    differs = [key for key in mine if mine[key] != theirs[key]]
    if differs and not spec.output.overwrite:
        raise OutputExistsError(f"{spec.output.path}: job {root} renders it from other {' and '.join(differs)} "
                                f"than this command gives; with output.overwrite the job renders again as this "
                                f"command says (replacing that render), or choose another output",
                                setting="output.overwrite")
    if differs:
        return RunPlan(spec, root, resumes=True)
    kept = tuple(o for o in recorded.overrides if o not in spec.overrides)
    return RunPlan(spec.model_copy(update={"overrides": (*spec.overrides, *kept)}), root, resumes=True, kept=kept)


def _identity(spec: PipelineSpec) -> dict[str, Any]:
    """What makes a job the render of a command: the same input, sources, frames and output."""
    data = json.loads(spec.to_json())
    return {"input": data["input"], "sources": data["sources"], "frames": data["frames"],
            "output": data["output"]["path"]}


def _is_job_range(frames: str, pipeline: Mapping[str, Any]) -> bool:
    """Whether ``frames`` is the range the job itself renders (then it is no range override)."""
    from vidswap.pipeline.ranges import parse_frame_range

    return str(parse_frame_range(frames)) == pipeline.get("frames")


def job_spec(root: Path, values: Mapping[str, Any], names: Mapping[str, str] | None = None,
             frames: str | None = None) -> PipelineSpec:
    """The pipeline of the job in ``root`` with the given changes (dotted keys): with ``frames``, an
    override of that range (:func:`with_range_override`); without, for the whole job. The job's
    input, output and sources stay: what a command line repeats of them is no change.

    Raises:
        ConfigError: the changes are invalid, or not allowed for a range.
    """
    from vidswap.pipeline.overrides import apply_options

    data = JobStore(root).read()["pipeline"]
    changes = {k: v for k, v in values.items() if k not in JOB_KEYS}
    if frames is not None and not _is_job_range(frames, data):
        return with_range_override(data, frames, changes, names)
    changed, origins = apply_options(data, changes, names)
    return _validate(changed, origins)


def with_range_override(spec: PipelineSpec | Mapping[str, Any], frames: str, values: Mapping[str, Any],
                        names: Mapping[str, str] | None = None) -> PipelineSpec:
    """``spec`` (a pipeline, or its resolved JSON data) with one more override: ``values`` (dotted
    keys) for the frames ``frames``.

    Only the sections an override holds (:data:`~vidswap.pipeline.spec.OVERRIDABLE`) may change
    for a range; the rest (input, output, encode, ...) is the whole job's.

    Raises:
        ConfigError: nothing changes, or a value is outside those sections.
    """
    from vidswap.pipeline.overrides import apply_options
    from vidswap.pipeline.spec import OVERRIDABLE, OVERRIDABLE_MODEL_KEYS

    before = json.loads(spec.to_json()) if hasattr(spec, "to_json") else json.loads(json.dumps(spec))
    changed, origins = apply_options(before, values, names)
    after = json.loads(_validate(changed, origins).to_json())
    outside = sorted(k for k in after if k not in (*OVERRIDABLE, "overrides") and after[k] != before[k])
    if outside:
        raise ConfigError(f"frames {frames}: {', '.join(outside)} cannot change for a frame range (only "
                          f"{', '.join(OVERRIDABLE)}); render the whole job with the new value instead",
                          setting="frames")
    sections = {k: after[k] for k in OVERRIDABLE if after[k] != before[k]}
    if not sections:
        raise ConfigError(f"frames {frames} on an existing job records an override for those frames: give "
                          f"a changed setting too (e.g. mask.blur=0.05 or model.refine=false)",
                          setting="frames")
    if "model" in sections:
        fixed = {k: v for k, v in after["model"].items() if k not in OVERRIDABLE_MODEL_KEYS}
        if fixed != {k: v for k, v in before["model"].items() if k not in OVERRIDABLE_MODEL_KEYS}:
            raise ConfigError(f"frames {frames}: of the model only {', '.join(OVERRIDABLE_MODEL_KEYS)} can "
                              f"change for a frame range; the weights, device and batch size are the whole "
                              f"job's", setting="frames")
    return _validate({**before, "overrides": [*before["overrides"], {"frames": frames, **sections}]})


def _hashed_files(spec: PipelineSpec, weights: Sequence[Path]) -> list[Path]:
    photos = [p.path for photos in spec.sources.values() for p in photos]
    swaps = [*spec.swaps, *(swap for o in spec.overrides for swap in (o.swaps or ()))]
    photos += [p.path for swap in swaps for p in swap.target.photos]
    files = [spec.input.path, *photos, *weights]
    return list(dict.fromkeys(Path(f).resolve() for f in files if Path(f).is_file()))


def changed_files(recorded: Mapping[str, str], current: Mapping[str, str] | None = None) -> dict[str, str]:
    """The files a job recorded that are missing (``"missing"``) or differ (``"changed"``) now.

    Args:
        recorded: path -> sha256, as ``job.json`` holds them.
        current: hashes already taken now (so no file is hashed twice); the others are hashed here.
    """
    current = current or {}
    found: dict[str, str] = {}
    for name, digest in recorded.items():
        path = Path(name)
        if not path.is_file():
            found[name] = "missing"
        elif (current[name] if name in current else sha256_file(path)) != digest:
            found[name] = "changed"
    return found


def _check_unchanged(recorded: Mapping[str, str], current: Mapping[str, str], root: Path) -> None:
    """Refuse when a file the job recorded is missing or differs (``current``: the hashes just taken,
    so no file is hashed twice)."""
    for name, state in changed_files(recorded, current).items():
        if state == "missing":
            raise JobChangedError(f"{name}: used by job {root} but missing now; restore it, or render the job "
                                  f"again from what is there with force", setting="force")
        raise JobChangedError(f"{name}: changed since job {root} was made (sha256 differs); restore the old "
                              f"one, or render the job again with the new file with force", setting="force")


def run_job(spec: PipelineSpec, root: Path, *, segment_frames: int | None = None, force: bool = False,
            executor: Executor | None = None, options: RunOptions | None = None) -> JobSummary:
    """Make or resume the job of ``spec`` in ``root`` and render it (steps: module docstring).

    Args:
        spec: the pipeline (a video output, and a matte; image-sequence outputs are not jobs).
        root: the job directory (made when missing).
        segment_frames: frames per segment (None: the job's, or :data:`DEFAULT_SEGMENT_FRAMES`).
        force: accept changed inputs or weights (the stale segments are rendered again).
        executor: where segments render (None: in this process, with this run's session).
        options: how to run (model/detector injection, progress, offline).

    Returns:
        What was done; ``output`` is set once every segment exists and the mux ran.

    Raises:
        JobLockedError: another process works on the job. JobChangedError: inputs changed.
        VidswapError: any other problem; the output path never holds a partial file.
    """
    from vidswap.io.media import is_sequence_pattern
    from vidswap.io.sequence import ImageSequenceWriter
    from vidswap.pipeline.session import RunOptions, check_outputs

    options = options or RunOptions()
    reason = stream_only(spec)
    if reason is not None:
        raise ConfigError(f"a job renders one video output: {reason} rendered without a job "
                          f"(vidswap.pipeline.runner.run_pipeline)")
    started = time.perf_counter()
    store = JobStore(root, codec=spec.encode.codec, matte=spec.matte)
    # Before the job directory is made (beside the output): the output folder must be there. The
    # outputs may be replaced only when they are this job's own.
    assert spec.output.path is not None  # stream_only refused the others
    check_outputs(spec, replace=store.exists() and store.muxed(spec.output.path) is not None)
    if not store.exists() and spec.matte is not None and is_sequence_pattern(spec.matte):
        ImageSequenceWriter(spec.matte, overwrite=spec.output.overwrite)  # refuses another's files
    fresh = not root.exists()
    store.create()
    try:
        return _run_locked(spec, store, root, started=started, segment_frames=segment_frames, force=force,
                           executor=executor, options=options)
    except BaseException:
        if fresh and not store.exists():  # failed before the job was made: leave nothing behind
            shutil.rmtree(root, ignore_errors=True)
        raise


def _run_locked(spec: PipelineSpec, store: JobStore, root: Path, *, started: float,
                segment_frames: int | None, force: bool, executor: Executor | None,
                options: RunOptions) -> JobSummary:
    """The body of :func:`run_job`, under the job's exclusive lock."""
    from vidswap.io.writer import stale_temporaries
    from vidswap.jobs.executors import LocalExecutor
    from vidswap.pipeline.analysis import FACE_PASS_SECTIONS
    from vidswap.pipeline.session import RenderSession

    steps: dict[str, float] = {}
    with store.lock():
        store.sweep()  # temporaries of a killed run
        assert spec.output.path is not None  # stream_only refused the others
        for temp in stale_temporaries(spec.output.path):  # a killed mux's, of this job's output
            temp.unlink(missing_ok=True)
        try:
            old = store.read() if store.exists() else None
        except ConfigError:
            if not force:
                raise
            old = None  # an unreadable job.json, and the user asked to render again from scratch
        session = RenderSession(spec, options)
        hashes = {str(p): sha256_file(p) for p in _hashed_files(spec, session.weight_paths)}
        if old is not None and not force:
            _check_unchanged(old["hashes"], hashes, root)
        steps["prepare"] = time.perf_counter() - started

        mark = time.perf_counter()
        # What the face pass and the identities depend on: the sections the face pass reads, per
        # frame range, with the input, photos and weights (not mask, encode or watermark).
        key = hashlib.sha256(json.dumps([session.schedule.fingerprint(FACE_PASS_SECTIONS),
                                         sorted(hashes.items())]).encode()).hexdigest()
        analysed = old is None or old.get("analysis") != key or not store.faces_file.is_file()
        if analysed:
            from vidswap.jobs.render import faces_to_arrays
            from vidswap.pipeline.qc import FACE_QC_FILE

            identities, references = session.embed_photos()
            analysis = session.face_pass(references)
            arrays = {k: v.float().cpu().numpy() for k, v in identities.items()}
            store.save_arrays(store.identities_file, arrays)
            store.save_arrays(store.faces_file, faces_to_arrays(analysis.faces))
            if analysis.stats is not None:  # the QC report's face-pass measures
                store.save_arrays(store.root / FACE_QC_FILE, analysis.stats.to_arrays())
        ids = store.load_arrays(store.identities_file)
        base = hashlib.sha256(json.dumps([sorted(hashes.items()), key]).encode()
                              + b"".join(ids[k].tobytes() for k in sorted(ids))).hexdigest()
        size = segment_frames or (old or {}).get("segment_frames") or DEFAULT_SEGMENT_FRAMES
        data = {"pipeline": json.loads(spec.to_json()), "hashes": hashes, "analysis": key, "base": base,
                "segment_frames": size}
        store.write(data)
        job = _job(store, spec, session.schedule, data)
        steps["faces"] = time.perf_counter() - mark

        mark = time.perf_counter()
        pending = [s.index for s, state in zip(job.segments, job.states(), strict=True) if state != "done"]
        executor = executor or LocalExecutor(progress=options.progress)
        results = executor.render(job, pending, session=session) if pending else []
        steps["render"] = time.perf_counter() - mark

        mark = time.perf_counter()
        output = mux_job(job) if all(state == "done" for state in job.states()) else None
        if output is not None and spec.turnover is not None:
            from vidswap.jobs.turnover import finish_job_turnover

            finish_job_turnover(job, output, session)
        steps["mux"] = time.perf_counter() - mark
    rendered = [r.index for r in results if not r.skipped]
    faceless = sum(1 for i in rendered for index in range(job.segments[i].start, job.segments[i].stop)
                   if index not in job.faces)
    return JobSummary(job=root, output=output, segments=len(job.segments), rendered=rendered,
                      frames=sum(r.frames for r in results), faces_swapped=sum(r.faces_swapped for r in results),
                      frames_without_face=faceless, analysed=analysed, seconds=time.perf_counter() - started,
                      stage_seconds=steps, state=job)


def mux_job(job: Job) -> Path:
    """Join the job's segments and the input's audio of the rendered range into the output, and
    the segments' mattes into the matte video (an image-sequence matte is already in place).

    Skipped when the outputs already hold exactly these segments (``mux.json``, checked against
    their size and sha256). A file at the output path that is not this job's last mux (someone
    else's, or a damaged one) is replaced only with ``output.overwrite``.
    """
    from vidswap.io.concat import concat_segments
    from vidswap.pipeline.session import provenance_tags

    output, store = job.output, job.store
    matte = job.spec.matte if store.matte_video() else None
    hashes = []
    for segment in job.segments:
        digest = store.segment_digest(segment)
        if digest is None:
            raise MediaError(f"{store.segment_file(segment)}: not rendered (no marker); render the job again")
        hashes.append(digest)
    with store.mux_lock():
        if store.muxed(output, matte) == hashes:
            return output
        if output.exists() and store.muxed(output) is None and not job.spec.output.overwrite:
            raise OutputExistsError(f"{output}: exists and is not what job {store.root} last wrote there (another "
                                    f"file, or a damaged one); with output.overwrite it is replaced",
                                    setting="output.overwrite")
        ranges = [s.frames for s in job.segments]
        concat_segments([store.segment_file(s) for s in job.segments], ranges, info=job.schedule.info,
                        frames=job.schedule.frames, output=output, copy_streams=job.spec.encode.audio == "copy",
                        metadata=provenance_tags())
        if matte is not None:
            concat_segments([store.matte_file(s) for s in job.segments], ranges, info=job.schedule.info,
                            frames=job.schedule.frames, output=matte, copy_streams=False, metadata=provenance_tags())
        store.record_mux(output, hashes, matte)
    return output


@dataclass(frozen=True)
class SliceSummary:
    """What :func:`render_slice` did.

    Attributes:
        rendered: numbers of the segments rendered now.
        output: the muxed output (None: segments are still missing, or the mux was not asked for).
        remaining: numbers of the segments not done yet.
        state: the job as this node loaded it (see :attr:`JobSummary.state`).
    """

    rendered: list[int]
    output: Path | None
    remaining: list[int]
    state: Job | None = field(default=None, compare=False, repr=False)


def render_slice(root: Path, segments: str | None = None, *, mux: bool = True,
                 executor: Executor | None = None) -> SliceSummary:
    """Render the pending segments of ``segments`` (``10-19``, ``10:``, ``:5``, ``7``; None: all)
    of the job in ``root``, on this node (a render farm node), under the job's shared lock; mux the
    output when ``mux`` and every segment is done (whoever finishes the last one does), and finish
    the job's turnover then (its tracking data, Nuke scripts and manifest).

    A node checks the job's recorded input, photos and weights first: segments rendered from a
    changed file must never be joined with the others.

    Raises:
        ConfigError: a bad slice. JobLockedError: a ``run`` holds the job.
        JobChangedError: a file the job recorded is missing or changed.
    """
    from vidswap.jobs.executors import LocalExecutor
    from vidswap.jobs.segments import parse_segment_range

    store = JobStore(root)
    with store.lock(shared=True):
        job = load_job(store)
        _check_unchanged(job.data["hashes"], {}, root)
        chosen = parse_segment_range(segments, len(job.segments)) if segments else range(len(job.segments))
        states = job.states()
        pending = [i for i in chosen if states[i] != "done"]
        executor = executor or LocalExecutor()
        results = executor.render(job, pending) if pending else []
        states = job.states()
        output = mux_job(job) if mux and all(s == "done" for s in states) else None
        if output is not None and job.spec.turnover is not None:
            from vidswap.jobs.turnover import finish_job_turnover

            finish_job_turnover(job, output)
    return SliceSummary(rendered=[r.index for r in results if not r.skipped], output=output,
                        remaining=[i for i, s in enumerate(states) if s != "done"], state=job)


def _output_state(job: Job, changed: Mapping[str, str]) -> str:
    """``done`` (the output is this job's mux of its current segments), ``inputs changed``,
    ``missing``, ``differs`` (a file the job did not write there, or a damaged one) or ``stale``
    (muxed from segments since re-rendered or not done)."""
    if changed:
        return "inputs changed"
    if not job.output.exists():
        return "missing"
    muxed = job.store.muxed(job.output, job.spec.matte if job.store.matte_video() else None)
    if muxed is None:
        return "differs"
    done = all(state == "done" for state in job.states())
    return "done" if done and muxed == [job.store.segment_digest(s) for s in job.segments] else "stale"


def clean_job(root: Path, *, force: bool = False) -> int:
    """Delete the job in ``root`` (segments, face analysis, records) once its output is done.

    Args:
        root: the job directory.
        force: delete it whatever its output's state (the render can no longer resume).

    Returns:
        The bytes freed.

    Raises:
        InputError: no job there. ConfigError: a link, or the output is not done (without ``force``).
        JobLockedError: a run or render holds the job.
    """
    store = JobStore(root)
    if root.is_symlink():
        raise ConfigError(f"{root}: is a link; clean the job folder it points to, not the link")
    with store.lock():
        job = load_job(store)
        state = _output_state(job, changed_files(job.data["hashes"]))
        if state != "done" and not force:
            raise ConfigError(f"{root}: its output {job.output} is not done ({state}); cleaning would lose the work "
                              f"to resume; with force the job is deleted anyway", setting="force")
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    shutil.rmtree(root)
    return size


def job_report(job: Job) -> dict[str, Any]:
    """What ``vidswap job show`` prints: the job, its overrides, each segment's state, and the
    recorded files that changed since (then the output is not up to date, whatever it holds)."""
    states = job.states()
    changed = changed_files(job.data["hashes"])
    return {"job": str(job.store.root), "input": str(job.spec.input.path), "output": str(job.output),
            "frames": str(job.schedule.frames), "segment_frames": job.data["segment_frames"],
            "changed_files": changed,
            "output_state": _output_state(job, changed),
            "overrides": [{"frames": str(o.frames), "changes": o.changes(),
                           "segments": [s.index for s in touched(job.segments, rng)]}
                          for o, (rng, _) in zip(job.spec.overrides, job.schedule.overrides, strict=True)],
            "segments": [{"index": s.index, "frames": f"{s.start}-{s.stop - 1}", "state": state}
                         for s, state in zip(job.segments, states, strict=True)],
            "counts": {k: states.count(k) for k in ("done", "stale", "torn", "missing")}}
