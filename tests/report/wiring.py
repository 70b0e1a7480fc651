"""The few lines the render and the job owe the QC report, patched in for the tests until they are
merged into vidswap/jobs/job.py, vidswap/jobs/render.py and vidswap/pipeline/render.py (the
report of the branch lists them); also a stub detector that misses one frame."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pytest

from tests.pipeline.run_helpers import StubDetector
from vidswap.faces.detect import Face
from vidswap.pipeline.qc import FACE_QC_FILE, RenderQC, load_face_stats, random_weights, segment_qc_file, sheet_frames

__all__ = ["qc_wired", "MissingDetector"]


class MissingDetector(StubDetector):
    """The stub detector, its face wobbling a little from frame to frame (so jitter and coverage vary),
    and blind in the clip's frame ``miss`` (photos, of another size, are neither counted nor moved)."""

    def __init__(self, miss: int, clip_shape: tuple[int, int]) -> None:
        super().__init__()
        self.miss, self.shape, self.seen = miss, clip_shape, 0

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        found = super().detect(frames)
        for i, frame in enumerate(frames):
            if frame.shape[:2] == self.shape:
                wobble = np.float32(1 + 0.04 * np.sin(self.seen * 1.7))
                face = found[i][0]
                centre = face.landmarks.mean(axis=0)
                found[i] = [] if self.seen == self.miss else [
                    Face(box=face.box, score=face.score, landmarks=(face.landmarks - centre) * wobble + centre)]
                self.seen += 1
        return found


@contextmanager
def qc_wired(*, trained: bool | None = None) -> Iterator[None]:
    """Patch in the QC wiring: the job stores the face pass's counts beside ``faces.npz``; each
    segment's render measures every frame (:class:`RenderQC`) and saves it beside the segment.
    ``trained``: record the weights as trained (True) whatever their file says (None: as it says)."""
    from vidswap.jobs.render import SegmentRenderer
    from vidswap.jobs.store import JobStore
    from vidswap.pipeline import render as stages
    from vidswap.pipeline.session import RenderSession

    current: dict[str, object] = {}
    face_pass, save_arrays = RenderSession.face_pass, JobStore.save_arrays
    encode, composite_stage = SegmentRenderer._encode, stages.composite_stage

    def face_pass_kept(self, references):  # type: ignore[no-untyped-def]
        analysis = face_pass(self, references)
        current["stats"] = analysis.stats
        return analysis

    def save_with_stats(self, path, arrays):  # type: ignore[no-untyped-def]
        save_arrays(self, path, arrays)
        if path == self.faces_file and current.get("stats") is not None:  # lead: in _run_locked
            save_arrays(self, self.root / FACE_QC_FILE, current["stats"].to_arrays())  # type: ignore[attr-defined]

    def encode_measured(self, segment, meter):  # type: ignore[no-untyped-def]
        stats = load_face_stats(self.store.root)  # lead: in SegmentRenderer.__init__ / _encode
        frames = self.job.schedule.frames
        swapper = self.session.swapper
        qc = RenderQC(swapper.model, {k: v.to(swapper.device) for k, v in self.identities.items()},
                      random_weights=random_weights(self.session.files) if trained is None else not trained,
                      thumbs=sheet_frames(frames.start, frames.stop, stats.cut_frames() if stats else ()))
        current["qc"] = qc
        result = encode(self, segment, meter)
        self.store.save_arrays(segment_qc_file(self.store.segment_file(segment)),
                               qc.data(self.job.fingerprints[segment.index]).to_arrays())
        return result

    def composite_measured(**kwargs):  # type: ignore[no-untyped-def]
        inner = composite_stage(**{**kwargs, "matte": True})

        def stage(items):  # type: ignore[no-untyped-def]
            qc = current.get("qc")
            faces = {}

            def tapped():  # type: ignore[no-untyped-def]
                for item in items:
                    faces[item.frame.index] = item.faces
                    if qc is not None:
                        qc.swaps(item.frame.index, item.faces, item.crops.swapped if item.crops else None)
                    yield item

            for frame, done in inner(tapped()):
                if qc is not None:
                    qc.matte(frame.index, faces.pop(frame.index, ()), done.matte)
                yield frame, done

        return stage

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RenderSession, "face_pass", face_pass_kept)
        patch.setattr(JobStore, "save_arrays", save_with_stats)
        patch.setattr(SegmentRenderer, "_encode", encode_measured)
        patch.setattr(stages, "composite_stage", composite_measured)
        yield
