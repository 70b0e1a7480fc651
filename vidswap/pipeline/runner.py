"""``vidswap run`` as a list of named steps.

1. resolve the weights (fetch the default set on first use; offline or failed: stop here,
   before anything is decoded, naming what is missing),
2. check the input and the outputs,
3. load the model and embed the sources (and target references),
4. the face pass: decode -> detect (batched) -> track -> select -> smooth, keeping landmarks only
   (see :mod:`vidswap.pipeline.analysis` for why the faces get their own cheap pass),
5. the render pass: decode -> align + swap (batched) -> composite -> encode, each stage in its
   own thread joined by bounded queues (:func:`vidswap.pipeline.stages.chain`).

Nothing is written between the steps; memory is bounded by the queues, never by the video's
length. Outputs go to temporary names and are renamed when complete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap import __version__
from vidswap.errors import InputError, MediaError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from vidswap.faces.detect import Detector
    from vidswap.models.checkpoint import ModelBundle
    from vidswap.pipeline.model import ModelFiles
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.spec import PipelineSpec
    from vidswap.weights.cache import CacheSettings, ResolvedWeights
    from vidswap.weights.manifest import Manifest

__all__ = ["RunOptions", "RunSummary", "PROVENANCE", "provenance_tags", "resolve_weights", "check_io",
           "Detectors", "embed_photos", "face_pass", "run_pipeline"]

#: The container tag key that marks a vidswap output.
PROVENANCE = "comment"


def provenance_tags() -> dict[str, str]:
    """Container metadata saying the video holds synthetic faces (and which vidswap made them)."""
    return {PROVENANCE: f"Contains synthetic (AI-generated) faces made with vidswap {__version__}",
            "encoder_software": f"vidswap {__version__}"}


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How to run a pipeline (what is not part of the pipeline itself).

    Attributes:
        offline: never download weights.
        progress: progress bars on stderr.
        cache: the weights cache (default: ``$VIDSWAP_HOME``).
        manifest: the weights manifest (default: the one shipped).
        detector: use this detector instead of building the pipeline's (tests, custom backends).
        model: use this loaded model instead of resolving the pipeline's.
        queue_size: frames held between two stages.
        on_weights: called with each weight file once present (the CLI prints its licence).
    """

    offline: bool = False
    progress: bool = True
    cache: CacheSettings | None = None
    manifest: Manifest | None = None
    detector: Detector | None = None
    model: ModelBundle | None = None
    queue_size: int = 8
    on_weights: Callable[[ResolvedWeights], None] | None = None


@dataclass(frozen=True)
class RunSummary:
    """What a run did.

    Attributes:
        output: the output video (or None when only a sequence was written).
        frames: frames written.
        faces_swapped: faces replaced, summed over frames.
        frames_without_face: frames written with no face swapped.
        tracks: face tracks found.
        seconds: wall time of the whole run.
        device: where the networks ran.
        stage_seconds: wall time of each step.
    """

    output: Path | None
    frames: int
    faces_swapped: int
    frames_without_face: int
    tracks: int
    seconds: float
    device: str
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames written per second of the whole run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _cache_and_manifest(options: RunOptions) -> tuple[CacheSettings, Manifest]:
    from vidswap.weights.cache import CacheSettings
    from vidswap.weights.manifest import load_manifest

    return (options.cache or CacheSettings.from_environ(os.environ), options.manifest or load_manifest())


def resolve_weights(spec: PipelineSpec, options: RunOptions) -> ModelFiles | None:
    """Step 1: every weight file the run needs, present on disk (None with an injected model)."""
    from vidswap.pipeline.model import resolve_model

    if options.model is not None:
        return None
    cache, manifest = _cache_and_manifest(options)
    return resolve_model(spec.model.weights, cache=cache, manifest=manifest, offline=options.offline,
                         progress=options.progress, notify=options.on_weights)


def check_io(spec: PipelineSpec) -> Schedule:
    """Step 2: probe the input, resolve the frame ranges, and check that every output can be written.

    Raises:
        InputError, MediaError: the input is missing or has no video.
        OutputExistsError: an output exists (without overwrite) or is the input.
        InputError: an output folder is missing or not writable.
        ConfigError: a frame range lies outside the input.
    """
    from vidswap.io.probe import probe
    from vidswap.io.writer import check_output
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.values import is_sequence_pattern

    info = probe(spec.input.path, rate=spec.input.fps)
    schedule = Schedule.of(spec, info)
    source = None if spec.input.is_sequence else spec.input.path
    for path in (spec.output.path, spec.output.sequence, spec.matte):
        if path is None:
            continue
        if not path.parent.is_dir():
            raise InputError(f"{path}: output folder {path.parent} does not exist; create it first")
        if not os.access(path.parent, os.W_OK):
            raise InputError(f"{path}: output folder {path.parent} is not writable; choose another output path")
        if not is_sequence_pattern(path):
            check_output(path, source=source, overwrite=spec.output.overwrite)
    return schedule


def _frames(path: Path, schedule: Schedule, spec: PipelineSpec, queue_size: int) -> Iterator:
    from vidswap.io.reader import VideoReader

    with VideoReader(path, frames=schedule.frames, queue_size=queue_size, rate=spec.input.fps) as reader:
        yield from reader


def run_pipeline(spec: PipelineSpec, options: RunOptions = RunOptions()) -> RunSummary:
    """Render a pipeline: the steps of this module's docstring, in order.

    Args:
        spec: the validated pipeline (:func:`vidswap.pipeline.load_pipeline`).
        options: how to run it.

    Returns:
        What was done.

    Raises:
        VidswapError: any problem, with nothing left at the output paths.
    """
    import torch

    from vidswap.pipeline.model import load_model
    from vidswap.pipeline.swap import Swapper, auto_batch_size, resolve_device

    started = time.perf_counter()
    steps: dict[str, float] = {}
    files = resolve_weights(spec, options)
    schedule = check_io(spec)
    device = resolve_device(spec.model.device)
    bundle = options.model if options.model is not None else load_model(files, device=device)
    swapper = Swapper(bundle, refine=spec.model.refine, device=device, precision=spec.model.precision)
    detectors = Detectors(schedule, device, options.detector)
    steps["prepare"] = time.perf_counter() - started

    mark = time.perf_counter()
    identities, references = embed_photos(spec, schedule, detectors.photos, swapper)
    steps["sources"] = time.perf_counter() - mark

    mark = time.perf_counter()
    analysis = face_pass(spec, schedule, detectors, swapper, references, options)
    steps["faces"] = time.perf_counter() - mark

    mark = time.perf_counter()
    batch = spec.model.batch_size if isinstance(spec.model.batch_size, int) else auto_batch_size(device)
    with torch.inference_mode():
        written, swapped = _render(spec, schedule, swapper, analysis.faces, identities, batch, options)
    steps["render"] = time.perf_counter() - mark
    return RunSummary(output=spec.output.path, frames=written, faces_swapped=swapped,
                      frames_without_face=written - sum(1 for i in analysis.faces if i in schedule.frames),
                      tracks=analysis.tracks, seconds=time.perf_counter() - started, device=str(device),
                      stage_seconds=steps)


class Detectors:
    """One detector per distinct detector setting of the schedule (overrides may differ)."""

    def __init__(self, schedule: Schedule, device: torch.device, injected: Detector | None) -> None:
        import dataclasses

        from vidswap.faces.detect import DetectorConfig, create_detector

        self._schedule = schedule
        self._by_key: dict[str, Detector] = {}
        for settings in schedule.variants():
            key = settings.detector.model_dump_json()
            if key not in self._by_key:
                self._by_key[key] = injected or create_detector(settings.detector.config(device=str(device)))
        self.base = self._by_key[schedule.base.detector.model_dump_json()]
        # Photos are sharp and their faces large: a threshold lowered for small, soft faces in a
        # shot would find false faces in a photo, so photos keep at least the default threshold.
        config = self.base.config
        floor = DetectorConfig().score_threshold
        self.photos = self.base if injected or config.score_threshold >= floor else create_detector(
            dataclasses.replace(config, score_threshold=floor))

    def __call__(self, index: int) -> Detector:
        return self._by_key[self._schedule.settings(index).detector.model_dump_json()]


def embed_photos(spec: PipelineSpec, schedule: Schedule, detector: Detector,
                 swapper: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """Step 3: z_id of each source set; embeddings of the target reference photos."""
    from vidswap.pipeline.identity import photo_embeddings, source_identity

    config, encoder, device = swapper.config, swapper.identity, swapper.device
    identities = {name: source_identity(photos, detector=detector, encoder=encoder, config=config, device=device)
                  for name, photos in spec.sources.items()}
    photos = {photo.path.as_posix() + f"#{photo.face}": photo for settings in schedule.variants()
              for swap in settings.swaps for photo in swap.target.photos}
    references = {}
    if photos:
        vectors = photo_embeddings(list(photos.values()), detector=detector, encoder=encoder, config=config,
                                   device=device)
        references = {key: vector.cpu().numpy() for key, vector in zip(photos, vectors)}
    return identities, references


def face_pass(spec: PipelineSpec, schedule: Schedule, detectors: Detectors, swapper: torch.nn.Module,
              references: dict[str, np.ndarray], options: RunOptions):
    """Step 4: the face analysis of every frame to render (landmarks only)."""
    from vidswap.pipeline.analysis import analyse_faces
    from vidswap.pipeline.identity import embed_faces
    from vidswap.progress import track

    frames = track(((f.index, f.rgb) for f in _frames(spec.input.path, schedule, spec, options.queue_size)),
                   total=len(range(schedule.frames.start, schedule.frames.stop)), description="faces ",
                   disable=not options.progress)

    def embed(images, landmarks):
        return embed_faces(images, landmarks, encoder=swapper.identity, config=swapper.config,
                           device=swapper.device).cpu().numpy()

    def reread(indices: set[int]):
        last = max(indices)
        for frame in _frames(spec.input.path, schedule, spec, options.queue_size):
            if frame.index in indices:
                yield frame.index, frame.rgb
            if frame.index >= last:
                return

    return analyse_faces(frames, schedule, detector_for=detectors, batch_size=detectors.base.config.batch_size,
                         references=references, embed=embed, reread=reread)


def _render(spec: PipelineSpec, schedule: Schedule, swapper, faces, identities, batch: int,
            options: RunOptions) -> tuple[int, int]:
    """Step 5: decode -> align + swap -> composite -> encode, overlapping in threads."""
    from vidswap.io.codecs import EncodeSettings
    from vidswap.io.reader import VideoReader
    from vidswap.io.sequence import ImageSequenceWriter
    from vidswap.io.writer import VideoWriter
    from vidswap.pipeline.render import composite_stage, swap_stage
    from vidswap.pipeline.stages import chain
    from vidswap.pipeline.values import is_sequence_pattern
    from vidswap.progress import track

    overwrite = spec.output.overwrite

    def settings_at(index: int) -> tuple:
        settings = schedule.settings(index)
        return settings.mask.config(), settings.mask.blend(), settings.watermark

    identities = {name: z.to(swapper.device) for name, z in identities.items()}
    written = swapped = 0
    with ExitStack() as stack:
        reader = stack.enter_context(VideoReader(spec.input.path, frames=schedule.frames,
                                                 queue_size=options.queue_size, rate=spec.input.fps))
        video = sequence = matte = None
        if spec.output.path is not None:
            video = stack.enter_context(VideoWriter(
                spec.output.path, like=reader, settings=spec.encode.settings(), overwrite=overwrite,
                copy_streams=spec.encode.audio == "copy", metadata=provenance_tags()))
        if spec.output.sequence is not None:
            sequence = stack.enter_context(ImageSequenceWriter(spec.output.sequence, overwrite=overwrite,
                                                               start_number=schedule.frames.start))
        if spec.matte is not None:
            if is_sequence_pattern(spec.matte):
                matte = stack.enter_context(ImageSequenceWriter(spec.matte, overwrite=overwrite,
                                                                start_number=schedule.frames.start))
            else:
                matte = stack.enter_context(VideoWriter(spec.matte, like=reader, settings=EncodeSettings.matte(),
                                                        overwrite=overwrite, copy_streams=False,
                                                        metadata=provenance_tags()))
        refine_at = (lambda index: schedule.settings(index).model.refine) if schedule.overrides else None
        stages = [swap_stage(swapper, faces, identities, batch_size=batch, refine_at=refine_at),
                  composite_stage(settings_at=settings_at, matte=matte is not None)]
        results = chain(reader, stages, maxsize=options.queue_size)
        stack.callback(results.close)
        total = schedule.frames.stop - schedule.frames.start
        for frame, done in track(results, total=total, description="render", disable=not options.progress):
            if video is not None:
                video.write(frame.pts, done.rgb)
            if sequence is not None:
                sequence.write(done.rgb)
            if isinstance(matte, VideoWriter):
                matte.write(frame.pts, done.matte)
            elif matte is not None:
                import numpy as np

                matte.write(np.repeat(done.matte[..., None], 3, axis=2))
            written += 1
            swapped += len(faces.get(frame.index, ()))
        if written == 0:
            raise MediaError(f"{spec.input.path}: no frame decoded in {schedule.frames}")
    return written, swapped
