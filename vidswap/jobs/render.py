"""Render one segment of a job: decode its frames (exact seek), swap, composite, encode.

A :class:`SegmentRenderer` loads what every segment shares once (the pipeline, the face
analysis, the source identities, the model) and then renders any segment of the job, so a
worker process (local, or a Ray actor) pays one model load for all its segments. The face
analysis is the job's, made once for the whole video: segment boundaries never change a swap.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidswap.errors import MediaError
from vidswap.jobs.segments import Segment
from vidswap.jobs.store import JobStore, count_video_frames

if TYPE_CHECKING:
    from vidswap.models.checkpoint import ModelBundle
    from vidswap.pipeline.analysis import FaceToSwap
    from vidswap.pipeline.schedule import Schedule

__all__ = ["SegmentResult", "SegmentRenderer", "faces_to_arrays", "faces_from_arrays", "segment_fingerprint"]


def faces_to_arrays(faces: Mapping[int, tuple[FaceToSwap, ...]]) -> dict[str, np.ndarray]:
    """The face analysis as flat arrays (one row per face): ``frame``, ``track``, ``landmarks``
    ``(N, 5, 2)`` frame pixels, ``source`` (index into ``sources``)."""
    rows = [(index, face) for index in sorted(faces) for face in faces[index]]
    sources = sorted({face.source for _, face in rows})
    return {"frame": np.array([i for i, _ in rows], np.int64),
            "track": np.array([f.track for _, f in rows], np.int64),
            "landmarks": np.array([f.landmarks for _, f in rows], np.float32).reshape(-1, 5, 2),
            "source": np.array([sources.index(f.source) for _, f in rows], np.int64),
            "sources": np.array(sources, dtype=np.str_)}


def faces_from_arrays(arrays: Mapping[str, np.ndarray]) -> dict[int, tuple[FaceToSwap, ...]]:
    """Inverse of :func:`faces_to_arrays`."""
    from vidswap.pipeline.analysis import FaceToSwap

    faces: dict[int, tuple[FaceToSwap, ...]] = {}
    sources = [str(s) for s in arrays["sources"]]
    for frame, track, landmarks, source in zip(arrays["frame"], arrays["track"], arrays["landmarks"],
                                               arrays["source"]):
        face = FaceToSwap(track=int(track), landmarks=landmarks, source=sources[int(source)])
        faces[int(frame)] = (*faces.get(int(frame), ()), face)
    return faces


def segment_fingerprint(schedule: Schedule, faces: Mapping[int, tuple[FaceToSwap, ...]], segment: Segment,
                        base: str) -> str:
    """What a segment's pixels depend on, hashed: the settings of each of its frames, the faces
    swapped there, and ``base`` (identities, input and weight hashes). Two renders with the same
    fingerprint produce the same segment, so a changed fingerprint is what makes a segment stale."""
    digest = hashlib.sha256(base.encode())
    by_settings: dict[int, bytes] = {}
    for index in range(segment.start, segment.stop):
        settings = schedule.settings(index)
        if id(settings) not in by_settings:
            text = settings.model_dump_json(exclude={"output", "matte", "overrides"})
            by_settings[id(settings)] = hashlib.sha256(text.encode()).digest()
        digest.update(by_settings[id(settings)])
        for face in faces.get(index, ()):
            digest.update(f"{index}:{face.source}".encode())  # not the track id: the render ignores it
            digest.update(np.ascontiguousarray(face.landmarks, np.float32).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class SegmentResult:
    """One rendered segment.

    Attributes:
        index: the segment's number.
        frames: frames written.
        faces_swapped: faces replaced in it.
        seconds: wall time.
        skipped: it was already done (nothing rendered).
    """

    index: int
    frames: int
    faces_swapped: int
    seconds: float
    skipped: bool = False


class SegmentRenderer:
    """Renders segments of one job; loads the model and the job's shared data once.

    Args:
        root: the job directory.
        model: an already loaded model (None: load the pipeline's, offline: the job made sure
            the weights are in the cache).
        queue_size: frames held between two stages.
    """

    def __init__(self, root: str | Path, *, model: ModelBundle | None = None, queue_size: int = 8) -> None:
        import torch

        from vidswap.jobs.job import load_job
        from vidswap.pipeline.model import load_model
        from vidswap.pipeline.runner import RunOptions, resolve_weights
        from vidswap.pipeline.swap import Swapper, auto_batch_size, resolve_device

        self.job = load_job(JobStore(root))
        self.store = self.job.store
        spec = self.job.spec
        self.device = resolve_device(spec.model.device)
        if model is None:
            model = load_model(resolve_weights(spec, RunOptions(offline=True, progress=False)), device=self.device)
        self.swapper = Swapper(model, refine=spec.model.refine, device=self.device, precision=spec.model.precision)
        arrays = self.store.load_arrays(self.store.identities_file)
        self.identities = {name: torch.from_numpy(z).to(self.device) for name, z in arrays.items()}
        batch = spec.model.batch_size
        self.batch = batch if isinstance(batch, int) else auto_batch_size(self.device)
        self.queue_size = queue_size

    def render(self, index: int) -> SegmentResult:
        """Render segment ``index`` unless it is already done; verify it; then mark it done.

        Raises:
            JobLockedError: another process renders this segment.
            MediaError: the encoded segment does not hold its frames.
        """
        import torch

        segment = self.job.segments[index]
        fingerprint = self.job.fingerprints[index]
        started = time.perf_counter()
        with self.store.segment_lock(segment):
            if self.store.state(segment, fingerprint).state == "done":
                return SegmentResult(index, 0, 0, time.perf_counter() - started, skipped=True)
            self.store.discard(segment)
            with torch.inference_mode():
                frames, swapped = self._encode(segment)
            expected, found = segment.stop - segment.start, count_video_frames(self.store.segment_file(segment))
            if frames != expected or found != expected:
                self.store.discard(segment)
                raise MediaError(f"{self.store.segment_file(segment)}: expected {expected} frames, wrote {frames} "
                                 f"and the file holds {found}; render the job again")
            self.store.mark_done(segment, frames=frames, fingerprint=fingerprint)
        return SegmentResult(index, frames, swapped, time.perf_counter() - started)

    def _encode(self, segment: Segment) -> tuple[int, int]:
        from vidswap.io.reader import VideoReader
        from vidswap.io.writer import VideoWriter
        from vidswap.pipeline.render import composite_stage, swap_stage
        from vidswap.pipeline.runner import provenance_tags
        from vidswap.pipeline.stages import chain

        spec, schedule, faces = self.job.spec, self.job.schedule, self.job.faces

        def settings_at(index: int) -> tuple:
            settings = schedule.settings(index)
            return settings.mask.config(), settings.mask.blend(), settings.watermark

        refine_at = (lambda index: schedule.settings(index).model.refine) if schedule.overrides else None
        written = swapped = 0
        with (VideoReader(spec.input.path, frames=segment.frames, queue_size=self.queue_size,
                          rate=spec.input.fps) as reader,
              VideoWriter(self.store.segment_file(segment), like=reader, settings=spec.encode.settings(),
                          overwrite=True, copy_streams=False, metadata=provenance_tags()) as writer):
            stages = [swap_stage(self.swapper, faces, self.identities, batch_size=self.batch, refine_at=refine_at),
                      composite_stage(settings_at=settings_at, matte=False)]
            results = chain(reader, stages, maxsize=self.queue_size)
            try:
                for frame, done in results:
                    writer.write(frame.pts, done.rgb)
                    written += 1
                    swapped += len(faces.get(frame.index, ()))
            finally:
                results.close()
        return written, swapped
