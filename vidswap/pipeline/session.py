"""A render session: what a render resolves once per process, shared by ``vidswap run`` and jobs.

Opening a :class:`RenderSession` resolves the weights (fetching the default set on first use;
offline or failed: it stops here, before anything is decoded), probes the input once and
resolves the frame ranges against it (:class:`~vidswap.pipeline.schedule.Schedule`), and picks
the device and the batch size. The model (:attr:`RenderSession.swapper`) and the detectors are
built on first use, once. Every later step reads the session: the source identities, the face
pass, and :meth:`RenderSession.render`, the one render loop that the streaming run and a job's
segments both use. :func:`check_outputs` and :func:`check_plan` check a pipeline before (or
without) a session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap import __version__
from vidswap.errors import InputError, MediaError, OutputExistsError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from vidswap.faces.align import AlignConfig
    from vidswap.faces.detect import Detector, DetectorConfig
    from vidswap.faces.mask_config import MaskConfig
    from vidswap.io.color import Conversion
    from vidswap.io.ranges import FrameRange
    from vidswap.io.reader import NativeFrame, VideoReader
    from vidswap.models.family import SwapModel
    from vidswap.pipeline.analysis import FaceAnalysis, FaceToSwap
    from vidswap.pipeline.composite import Composited, DenseMasks
    from vidswap.pipeline.model import ModelFiles
    from vidswap.pipeline.qc import RenderQC
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.spec import PipelineSpec
    from vidswap.pipeline.swap import Swapper
    from vidswap.pipeline.turnover import TurnoverLayers
    from vidswap.progress import Meter
    from vidswap.weights.cache import CacheSettings, ResolvedWeights
    from vidswap.weights.manifest import Manifest, WeightEntry

__all__ = ["RunOptions", "PROVENANCE", "provenance_tags", "check_outputs", "check_plan", "RenderSession",
           "Detectors", "FrameSink", "RenderCount"]

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
        on_download: called with each manifest entry about to be downloaded, before the first
            download starts (the CLI prints its licence).
        commercial_only: refuse weights whose licence does not allow commercial use (research-only,
            non-commercial), before anything is downloaded.
    """

    offline: bool = False
    progress: bool = True
    cache: CacheSettings | None = None
    manifest: Manifest | None = None
    detector: Detector | None = None
    model: SwapModel | None = None
    queue_size: int = 8
    on_weights: Callable[[ResolvedWeights], None] | None = None
    on_download: Callable[[WeightEntry], None] | None = None
    commercial_only: bool = False


#: Receives each rendered frame: the decoded frame and its composite (the picture in the source's
#: pixel format as stored, and the matte when the render makes one); what it returns is ignored.
FrameSink = Callable[["NativeFrame", "Composited"], object]


@dataclass(frozen=True)
class RenderCount:
    """What :meth:`RenderSession.render` did: frames written, faces replaced in them."""

    frames: int
    faces_swapped: int


def check_outputs(spec: PipelineSpec, *, replace: bool = False) -> None:
    """Check that every output of ``spec`` can be written (``replace``: an existing file at the
    video or matte output path is this render's own earlier output, e.g. its job's, and may be replaced).

    Raises:
        OutputExistsError: an output exists (without ``output.overwrite``) or is the input.
        InputError: an output folder is missing or not writable.
    """
    from vidswap.io.media import is_sequence_pattern
    from vidswap.io.writer import check_output

    source = None if spec.input.is_sequence else spec.input.path
    for path in (spec.output.path, spec.output.sequence, spec.matte):
        if path is None:
            continue
        if not path.parent.is_dir():
            raise InputError(f"{path}: output folder {path.parent} does not exist; create it first")
        if not os.access(path.parent, os.W_OK):
            raise InputError(f"{path}: output folder {path.parent} is not writable; choose another output path")
        if not is_sequence_pattern(path):
            check_output(path, source=source,
                         overwrite=spec.output.overwrite or (replace and path in (spec.output.path, spec.matte)))
    turnover = spec.turnover
    if turnover is not None:
        if not turnover.dir.parent.is_dir():
            raise InputError(f"{turnover.dir}: its folder {turnover.dir.parent} does not exist; create it first")
        from vidswap.pipeline.turnover import MANIFEST_FILE

        if (turnover.dir / MANIFEST_FILE).exists() and not (spec.output.overwrite or replace):
            raise OutputExistsError(f"{turnover.dir}: holds a turnover; with output.overwrite it is replaced",
                                    setting="output.overwrite")


def check_plan(spec: PipelineSpec, *, replace: bool = False) -> Schedule:
    """What a render checks before it loads anything, without touching the weights (a dry run):
    the input probed, the frame ranges resolved against it, the outputs writable.

    Raises:
        InputError, MediaError: the input is missing or has no video.
        ConfigError: a frame range lies outside the input.
        OutputExistsError, InputError: as :func:`check_outputs`.
    """
    schedule = _probed_schedule(spec)
    check_outputs(spec, replace=replace)
    return schedule


def _probed_schedule(spec: PipelineSpec) -> Schedule:
    """The input probed (the one probe of a render) and ``spec``'s ranges resolved against it."""
    from vidswap.io.probe import probe
    from vidswap.pipeline.schedule import Schedule

    return Schedule.of(spec, probe(spec.input.path, rate=spec.input.fps))


class RenderSession:
    """Everything a render resolves once: weights, the probed input, the schedule, the device,
    the batch size, and (on first use) the swapper and the detectors.

    Args:
        spec: the validated pipeline.
        options: how to run it.
        schedule: the input already probed and its ranges resolved (a job read from disk);
            None probes the input.

    Raises:
        WeightsError, DownloadError: a weight file is missing and cannot be fetched.
        InputError, MediaError: the input is missing or has no video.
        ConfigError: a frame range lies outside the input, or ``model.device`` is unusable.
    """

    def __init__(self, spec: PipelineSpec, options: RunOptions | None = None, *,
                 schedule: Schedule | None = None) -> None:
        from vidswap.pipeline.swap import auto_batch_size, resolve_device

        self.spec = spec
        self.options = options or RunOptions()
        self.files = self._resolve_weights()
        self.schedule = schedule or _probed_schedule(spec)
        self._check_detector_licences()
        self.dense = self._dense_masks()
        self.info = self.schedule.info
        self.device = resolve_device(spec.model.device)
        batch = spec.model.batch_size
        self.batch = batch if isinstance(batch, int) else auto_batch_size(self.device)

    def _resolve_weights(self) -> ModelFiles | None:
        """Every weight file the run needs, present on disk (None with an injected model)."""
        from vidswap.pipeline.model import resolve_model

        options = self.options
        if options.model is not None:
            return None
        cache, manifest = self._cache_and_manifest()
        return resolve_model(self.spec.model.weights, cache=cache, manifest=manifest, offline=options.offline,
                             progress=options.progress, notify=options.on_weights,
                             before_download=options.on_download, commercial_only=options.commercial_only)

    def _cache_and_manifest(self) -> tuple[CacheSettings, Manifest]:
        """The weights cache and manifest of the options (default: ``$VIDSWAP_HOME``, the shipped one)."""
        from vidswap.weights.cache import CacheSettings
        from vidswap.weights.manifest import load_manifest

        return (self.options.cache or CacheSettings.from_environ(os.environ),
                self.options.manifest or load_manifest())

    def _check_detector_licences(self) -> None:
        """A commercial-only run refuses a detector backend whose model is not for commercial use."""
        from vidswap.errors import WeightsError
        from vidswap.faces.detect import backend_licence

        if not self.options.commercial_only:
            return
        for backend in dict.fromkeys(settings.detector.backend for settings in self.schedule.variants()):
            licence, commercial = backend_licence(backend)
            if not commercial:
                raise WeightsError(f"commercial_only: detector.backend {backend} runs a model licensed {licence}; "
                                   f"use detector.backend yunet_onnx (MIT)", setting="commercial_only")

    def _dense_masks(self) -> DenseMasks | None:
        """The dense landmark model, where some frame's mask is ``dense`` (fetched on first use
        unless offline, before anything is decoded); None otherwise."""
        from vidswap.pipeline.composite import DenseMasks

        if not any(settings.mask.shape == "dense" for settings in self.schedule.variants()):
            return None
        cache, manifest = self._cache_and_manifest()
        return DenseMasks.open(cache=cache, manifest=manifest, offline=self.options.offline,
                               progress=self.options.progress)

    @property
    def weight_paths(self) -> list[Path]:
        """The weight files the render reads (none with an injected model)."""
        return [w.path for w in self.files.all] if self.files is not None else []

    @cached_property
    def swapper(self) -> Swapper:
        """The networks on the session's device (loaded on first use)."""
        from vidswap.pipeline.model import load_model
        from vidswap.pipeline.swap import Swapper

        model = self.options.model
        if model is None:
            assert self.files is not None  # resolved whenever no model is injected
            model = load_model(self.files, device=self.device)
        spec = self.spec.model
        return Swapper(model, refine=spec.refine, device=self.device, precision=spec.precision)

    @cached_property
    def detectors(self) -> Detectors:
        """The detectors of every detector setting of the schedule (built on first use)."""
        return Detectors(self.schedule, self.device, self.options.detector)

    def reader(self, frames: FrameRange) -> VideoReader:
        """A reader of the input's ``frames`` (the probe is the session's), whose RGB frames are
        turned upright by the rotation metadata: faces are detected as a player shows them (a phone
        video stored sideways holds sideways faces). The render reads its :meth:`VideoReader.pictures`,
        as stored, and swaps there (:meth:`render` maps the faces' landmarks to stored pixels)."""
        from vidswap.io.reader import VideoReader

        return VideoReader(self.spec.input.path, frames=frames, queue_size=self.options.queue_size,
                           info=self.info, turn_upright=True)

    @cached_property
    def color(self) -> Conversion:
        """The input's matrix and range, for every conversion of its pixels to and from RGB."""
        from vidswap.io.color import conversion

        video = self.info.video
        return conversion(video.color, height=video.height, pix_fmt=video.pix_fmt)

    def embed_photos(self) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
        """z_id of each source set; embeddings of the target reference photos (``"PATH#FACE"``)."""
        from vidswap.pipeline.identity import photo_embeddings, source_identity

        swapper, detector = self.swapper, self.detectors.photos
        config, encoder, device = swapper.config, swapper.model, swapper.device
        identities = {name: source_identity(photos, detector=detector, encoder=encoder, config=config, device=device)
                      for name, photos in self.spec.sources.items()}
        photos = {photo.path.as_posix() + f"#{photo.face}": photo for settings in self.schedule.variants()
                  for swap in settings.swaps for photo in swap.target.photos}
        references = {}
        if photos:
            vectors = photo_embeddings(list(photos.values()), detector=detector, encoder=encoder, config=config,
                                       device=device)
            references = {key: vector.cpu().numpy() for key, vector in zip(photos, vectors, strict=True)}
        return identities, references

    def face_pass(self, references: Mapping[str, np.ndarray]) -> FaceAnalysis:
        """The face analysis of every frame to render (landmarks only)."""
        from vidswap.pipeline.analysis import analyse_faces
        from vidswap.pipeline.identity import embed_faces
        from vidswap.progress import track

        frames = self.schedule.frames
        swapper = self.swapper

        def decoded() -> Iterator[tuple[int, np.ndarray]]:
            with self.reader(frames) as reader:
                for frame in reader:
                    yield frame.index, frame.rgb

        def embed(images: Sequence[np.ndarray], landmarks: np.ndarray) -> np.ndarray:
            return embed_faces(images, landmarks, encoder=swapper.model, config=swapper.config,
                               device=swapper.device).cpu().numpy()

        def reread(indices: set[int]) -> Iterator[tuple[int, np.ndarray]]:
            last = max(indices)
            for index, rgb in decoded():
                if index in indices:
                    yield index, rgb
                if index >= last:
                    return

        shown = track(decoded(), total=frames.count, description="faces ",
                      disable=not self.options.progress)
        return analyse_faces(shown, self.schedule, detector_for=self.detectors,
                             batch_size=self.detectors.base.config.batch_size, references=references,
                             embed=embed, reread=reread)

    def stored_faces(self, faces: Mapping[int, tuple[FaceToSwap, ...]], frames: FrameRange
                     ) -> Mapping[int, tuple[FaceToSwap, ...]]:
        """The face pass's faces (landmarks upright, as it saw the frames) in stored pixels, where the
        render works (the same faces when the input has no rotation)."""
        import dataclasses

        from vidswap.io.reader import stored_points

        video = self.info.video
        if not video.rotation:
            return faces
        return {index: tuple(dataclasses.replace(face, landmarks=stored_points(
            face.landmarks, video.rotation, width=video.width, height=video.height)) for face in found)
            for index, found in faces.items() if index in frames}

    @property
    def align(self) -> AlignConfig:
        """How the swapper's crops are aligned (its template and crop size)."""
        from vidswap.faces.align import AlignConfig

        model = self.swapper.model
        return AlignConfig(template=model.alignment, crop_size=model.crop_size)

    def render(self, frames: FrameRange, faces: Mapping[int, tuple[FaceToSwap, ...]],
               identities: Mapping[str, torch.Tensor], sinks: Sequence[FrameSink], *, matte: bool = False,
               meter: Meter | None = None, qc: RenderQC | None = None,
               layers: TurnoverLayers | None = None) -> RenderCount:
        """The render pass over ``frames``: decode -> align + swap -> composite, each stage in its
        own thread joined by bounded queues, every frame handed to each of ``sinks`` in order.

        Args:
            frames: the input's frames to render (resolved).
            faces: frame index -> the faces to swap there (the face pass's result: upright landmarks).
            identities: source name -> ``(c_id,)`` z_id.
            sinks: where each frame goes (writers).
            matte: also make each frame's matte (``Composited.matte``).
            meter: counts the frames (a job's meter over all its segments); None: the render's
                own, shown as the session's options say.
            qc: measures every frame for the QC report (a job's segments); None: nothing measured.
            layers: writes every frame's turnover layer and matte; None: no turnover.

        Raises:
            MediaError: no frame was decoded.
        """
        import torch

        from vidswap.pipeline.render import composite_stage, swap_stage
        from vidswap.pipeline.stages import Stage, chain
        from vidswap.progress import Meter

        schedule, swapper = self.schedule, self.swapper
        faces = self.stored_faces(faces, frames)

        def settings_at(index: int) -> tuple[MaskConfig, bool]:
            settings = schedule.settings(index)
            return settings.mask, settings.watermark

        refine_at = (lambda index: schedule.settings(index).model.refine) if schedule.overrides else None
        dense_at = (lambda index: schedule.settings(index).mask.shape == "dense") if self.dense is not None else None
        on_device = {name: z.to(swapper.device) for name, z in identities.items()}
        written = swapped = 0
        with ExitStack() as stack, torch.inference_mode():
            if meter is None:
                meter = stack.enter_context(Meter(frames.count, description="render",
                                                  disable=not self.options.progress))
            reader = stack.enter_context(self.reader(frames))
            stages: list[Stage] = [swap_stage(swapper, faces, on_device, batch_size=self.batch, color=self.color,
                                              refine_at=refine_at, dense_at=dense_at, qc=qc),
                                   composite_stage(settings_at=settings_at, color=self.color,
                                                   matte=matte or qc is not None, dense=self.dense, qc=qc,
                                                   layers=layers)]
            results = chain(reader.pictures(), stages, maxsize=self.options.queue_size)
            stack.callback(results.close)
            for frame, done in results:
                for sink in sinks:
                    sink(frame, done)
                meter.advance()
                written += 1
                swapped += len(faces.get(frame.index, ()))
        if written == 0:
            raise MediaError(f"{self.spec.input.path}: no frame decoded in {frames}")
        return RenderCount(written, swapped)


class Detectors:
    """One detector per distinct detector setting of the schedule (overrides may differ)."""

    def __init__(self, schedule: Schedule, device: torch.device, injected: Detector | None) -> None:
        import dataclasses

        from vidswap.faces.detect import DetectorConfig, create_detector

        self._schedule = schedule
        self._by_key: dict[DetectorConfig, Detector] = {}
        for settings in schedule.variants():
            config = settings.detector
            if config not in self._by_key:
                self._by_key[config] = injected or create_detector(config, device=str(device))
        self.base = self._by_key[schedule.base.detector]
        # Photos are sharp and their faces large: a threshold lowered for small, soft faces in a
        # shot would find false faces in a photo, so photos keep at least the default threshold.
        config = self.base.config
        floor = DetectorConfig().score_threshold
        self.photos = self.base if injected or config.score_threshold >= floor else create_detector(
            dataclasses.replace(config, score_threshold=floor), device=str(device))

    def __call__(self, index: int) -> Detector:
        return self._by_key[self._schedule.settings(index).detector]
