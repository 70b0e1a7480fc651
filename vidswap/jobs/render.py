"""Render one segment of a job: decode its frames (exact seek), swap, composite, encode.

A :class:`SegmentRenderer` holds what every segment shares (the job's pipeline and face
analysis, the source identities, and a render session with the model) and renders any segment
of the job with the session's render loop, so a worker process (local, or a Ray actor) pays one
model load for all its segments. The face
analysis is the job's, made once for the whole video: segment boundaries never change a swap.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vidswap.errors import MediaError
from vidswap.jobs.segments import Segment
from vidswap.jobs.store import count_video_frames

if TYPE_CHECKING:
    from contextlib import ExitStack

    from vidswap.jobs.job import Job
    from vidswap.pipeline.analysis import FaceToSwap
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.session import FrameSink, RenderSession, RunOptions
    from vidswap.progress import Meter

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
                                               arrays["source"], strict=True):
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
            text = settings.model_dump_json(exclude={"output", "matte", "turnover", "overrides"})
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
    """Renders segments of one job with one render session (one model load for all of them).

    Args:
        job: the job.
        session: the render session of the job's pipeline (the one that made the job, or one
            opened from it: :meth:`open`).
    """

    def __init__(self, job: Job, session: RenderSession) -> None:
        import torch

        self.job, self.session, self.store = job, session, job.store
        arrays = self.store.load_arrays(self.store.identities_file)
        self.identities = {name: torch.from_numpy(z) for name, z in arrays.items()}

    @classmethod
    def open(cls, job: Job, options: RunOptions | None = None) -> SegmentRenderer:
        """A renderer with its own session of ``job`` (a farm node or a Ray worker): the job's
        probe and schedule, the weights from the cache (``offline``: the job made sure they are
        there)."""
        from vidswap.pipeline.session import RenderSession, RunOptions

        options = options or RunOptions(offline=True, progress=False)
        return cls(job, RenderSession(job.spec, options, schedule=job.schedule))

    def render(self, index: int, meter: Meter | None = None) -> SegmentResult:
        """Render segment ``index`` unless it is already done; verify it; then mark it done.

        Args:
            index: the segment.
            meter: counts its frames as they are rendered (None: silently).

        Raises:
            JobLockedError: another process renders this segment.
            MediaError: the encoded segment does not hold its frames.
        """
        segment = self.job.segments[index]
        fingerprint = self.job.fingerprints[index]
        started = time.perf_counter()
        with self.store.segment_lock(segment):
            if self.store.state(segment, fingerprint).state == "done":
                return SegmentResult(index, 0, 0, time.perf_counter() - started, skipped=True)
            self.store.discard(segment)
            frames, swapped = self._encode(segment, meter)
            expected, found = segment.stop - segment.start, count_video_frames(self.store.segment_file(segment))
            mattes = count_video_frames(self.store.matte_file(segment)) if self.store.matte_video() else expected
            if frames != expected or found != expected or mattes != expected:
                self.store.discard(segment)
                note = f", its matte {mattes}" if self.store.matte_video() else ""
                raise MediaError(f"{self.store.segment_file(segment)}: expected {expected} frames, wrote {frames} "
                                 f"and the file holds {found}{note}; render the job again")
            self.store.mark_done(segment, frames=frames, fingerprint=fingerprint)
        return SegmentResult(index, frames, swapped, time.perf_counter() - started)

    def _encode(self, segment: Segment, meter: Meter | None) -> tuple[int, int]:
        from contextlib import ExitStack

        from vidswap.io.writer import VideoWriter
        from vidswap.pipeline.qc import load_face_stats, open_render_qc, segment_qc_file
        from vidswap.pipeline.session import provenance_tags
        from vidswap.pipeline.turnover import turnover_layers
        from vidswap.progress import Meter

        session, spec = self.session, self.job.spec
        qc = open_render_qc(session, self.identities, load_face_stats(self.store.root))
        with ExitStack() as stack, VideoWriter(
                self.store.segment_file(segment), like=session.info, frames=segment.frames,
                settings=spec.encode.settings(), overwrite=True, copy_streams=False,
                metadata=provenance_tags()) as writer:  # the render's pictures are as stored
            mattes = self._matte_sinks(segment, stack)
            layers = None if spec.turnover is None else turnover_layers(session, spec.turnover)
            count = session.render(segment.frames, self.job.faces, self.identities,
                                   [lambda frame, done: writer.write(frame.pts, done.picture), *mattes],
                                   meter=meter or Meter(None, disable=True), matte=bool(mattes), qc=qc,
                                   layers=layers)
        # The QC report's measures of the segment, beside it (the report reads them while its fingerprint holds).
        self.store.save_arrays(segment_qc_file(self.store.segment_file(segment)),
                               qc.data(self.job.fingerprints[segment.index]).to_arrays())
        return count.frames, count.faces_swapped

    def _matte_sinks(self, segment: Segment, stack: ExitStack) -> list[FrameSink]:
        """The writer of the segment's matte (none when the job has no matte): a matte video beside
        the segment's video, or the segment's files of an image-sequence matte."""
        from vidswap.pipeline.runner import matte_sink

        matte = self.job.spec.matte
        if matte is None:
            return []
        path = self.store.matte_file(segment) if self.store.matte_video() else matte
        return [matte_sink(stack, path, info=self.session.info, frames=segment.frames, overwrite=True)]
