"""``vidswap run`` streaming straight to its outputs, as a list of named steps.

1. open the render session (:class:`~vidswap.pipeline.session.RenderSession`): resolve the
   weights (offline or failed: stop here, before anything is decoded, naming what is missing),
   probe the input, resolve the frame ranges,
2. check the outputs,
3. embed the sources (and target references),
4. the face pass: decode -> detect (batched) -> track -> select -> smooth, keeping landmarks only
   (see :mod:`vidswap.pipeline.analysis` for why the faces get their own cheap pass),
5. the render pass (:meth:`RenderSession.render`): decode -> align + swap (batched) -> composite
   -> encode, each stage in its own thread joined by bounded queues.

Nothing is written between the steps; memory is bounded by the queues, never by the video's
length. Outputs go to temporary names and are renamed when complete.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap.pipeline.qc import open_render_qc
from vidswap.pipeline.session import RenderSession, RunOptions, check_outputs, provenance_tags

if TYPE_CHECKING:
    import numpy as np

    from vidswap.io.probe import MediaInfo
    from vidswap.io.ranges import FrameRange
    from vidswap.pipeline.composite import Composited
    from vidswap.pipeline.model import ModelFiles
    from vidswap.pipeline.qc import FaceStats, RenderQCData
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.session import FrameSink
    from vidswap.pipeline.spec import PipelineSpec

__all__ = ["RunSummary", "run_pipeline", "matte_sink"]


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
        schedule: the frames and settings rendered; ``files`` the weight files read (None: an
            injected model).
        face_stats: the face pass's counts, and ``measures`` the render's, for the QC report
            (:func:`vidswap.report.build.write_stream_report`).
    """

    output: Path | None
    frames: int
    faces_swapped: int
    frames_without_face: int
    tracks: int
    seconds: float
    device: str
    stage_seconds: dict[str, float] = field(default_factory=dict)
    schedule: Schedule | None = None
    files: ModelFiles | None = None
    face_stats: FaceStats | None = None
    measures: RenderQCData | None = None

    @property
    def fps(self) -> float:
        """Frames written per second of the whole run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_pipeline(spec: PipelineSpec, options: RunOptions | None = None, *,
                 session: RenderSession | None = None) -> RunSummary:
    """Render a pipeline: the steps of this module's docstring, in order.

    Args:
        spec: the validated pipeline (:func:`vidswap.pipeline.load_pipeline`).
        options: how to run it.
        session: an already opened session of ``spec`` (None: open one with ``options``).

    Returns:
        What was done.

    Raises:
        VidswapError: any problem, with nothing left at the output paths.
    """
    started = time.perf_counter()
    steps: dict[str, float] = {}
    session = session or RenderSession(spec, options)
    check_outputs(spec)
    swapper = session.swapper  # the model loads here, so its time counts as preparation
    steps["prepare"] = time.perf_counter() - started

    mark = time.perf_counter()
    identities, references = session.embed_photos()
    steps["sources"] = time.perf_counter() - mark

    mark = time.perf_counter()
    analysis = session.face_pass(references)
    steps["faces"] = time.perf_counter() - mark

    mark = time.perf_counter()
    frames = session.schedule.frames
    qc = open_render_qc(session, identities, analysis.stats)
    layers = None
    if spec.turnover is not None:
        from vidswap.pipeline.turnover import turnover_layers

        layers = turnover_layers(session, spec.turnover)
    with ExitStack() as stack:
        sinks = _open_outputs(session, stack)
        count = session.render(frames, analysis.faces, identities, sinks, matte=spec.matte is not None, qc=qc,
                               layers=layers)
    if spec.turnover is not None:
        from vidswap.pipeline.turnover import finish_turnover

        finish_turnover(session, spec.turnover, analysis.faces, frames, spec.output.path)
    steps["render"] = time.perf_counter() - mark
    return RunSummary(output=spec.output.path, frames=count.frames, faces_swapped=count.faces_swapped,
                      frames_without_face=count.frames - sum(1 for i in analysis.faces if i in frames),
                      tracks=analysis.tracks, seconds=time.perf_counter() - started, device=str(swapper.device),
                      stage_seconds=steps, schedule=session.schedule, files=session.files, face_stats=analysis.stats,
                      measures=qc.data())


def _open_outputs(session: RenderSession, stack: ExitStack) -> list[FrameSink]:
    """The writers of the video, image-sequence and matte outputs, as sinks of the render.

    The render's pictures and mattes are as stored (:meth:`RenderSession.render`): a video or matte
    video is written so, in the source's pixel format, with its rotation tag; an image sequence has
    no rotation tag, so its files are converted to RGB at the input's depth and written upright, as
    the video is shown."""
    from vidswap.io.planes import sequence_rgb
    from vidswap.io.reader import upright
    from vidswap.io.sequence import ImageSequenceWriter, plate_number
    from vidswap.io.writer import VideoWriter

    spec, info, frames = session.spec, session.info, session.schedule.frames
    rotation, color = info.video.rotation, session.color
    overwrite = spec.output.overwrite
    sinks: list[FrameSink] = []
    if spec.output.path is not None:
        video = stack.enter_context(VideoWriter(
            spec.output.path, like=info, frames=frames, settings=spec.encode.settings(), overwrite=overwrite,
            copy_streams=spec.encode.audio == "copy", metadata=provenance_tags()))
        sinks.append(lambda frame, done: video.write(frame.pts, done.picture))
    if spec.output.sequence is not None:
        sequence = stack.enter_context(ImageSequenceWriter(spec.output.sequence, overwrite=overwrite,
                                                           start_number=plate_number(info, frames.start),
                                                           depth=info.video.bit_depth))
        sinks.append(lambda frame, done: sequence.write(upright(sequence_rgb(done.picture, color), rotation)))
    if spec.matte is not None:
        sinks.append(matte_sink(stack, spec.matte, info=info, frames=frames, overwrite=overwrite))
    return sinks


def matte_sink(stack: ExitStack, path: Path, *, info: MediaInfo, frames: FrameRange, overwrite: bool) -> FrameSink:
    """The writer of a matte (a lossless greyscale video with the video's timing, or an image sequence
    numbered with the input's frame numbers, one file at a time) as a sink of a render made with
    ``matte=True``; closed with ``stack``. A job's segments write theirs with it too."""
    import numpy as np

    from vidswap.io.codecs import EncodeSettings
    from vidswap.io.media import is_sequence_pattern
    from vidswap.io.reader import upright
    from vidswap.io.sequence import ImageSequenceWriter, plate_number
    from vidswap.io.writer import VideoWriter

    if is_sequence_pattern(path):  # files are upright, as the image-sequence output's
        mattes = stack.enter_context(ImageSequenceWriter(path, overwrite=overwrite,
                                                         start_number=plate_number(info, frames.start)))
        rotation = info.video.rotation
        return lambda frame, done: mattes.write(np.repeat(upright(_matte(done), rotation)[..., None], 3, axis=2))
    matte = stack.enter_context(VideoWriter(path, like=info, frames=frames, settings=EncodeSettings.matte(),
                                            overwrite=overwrite, copy_streams=False, metadata=provenance_tags()))
    return lambda frame, done: matte.write(frame.pts, _matte(done))  # as stored, with the rotation tag


def _matte(done: Composited) -> np.ndarray:
    """The matte of a frame rendered with ``matte=True`` (the render makes one for every frame)."""
    assert done.matte is not None, "a matte output renders with matte=True"
    return done.matte
