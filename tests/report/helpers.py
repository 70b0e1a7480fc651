"""Helpers of the QC report's tests: a stub detector that misses one frame, weights counted as
trained, and a render that measures nothing (the benchmark's baseline)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pytest

from tests.pipeline.run_helpers import StubDetector
from vidswap.faces.detect import Face

__all__ = ["MissingDetector", "trained_weights", "unmeasured"]


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
def trained_weights() -> Iterator[None]:
    """Record the render's weights as trained, whatever their file says (the tiny test model's
    provenance says random initialisation, which hides the identity figures)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("vidswap.pipeline.qc.random_weights", lambda files: False)
        yield


@contextmanager
def unmeasured() -> Iterator[None]:
    """A render that measures nothing for the QC report (the collector's calls do nothing): the
    benchmark's baseline."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("vidswap.pipeline.qc.RenderQC.swaps", lambda self, *args: None)
        patch.setattr("vidswap.pipeline.qc.RenderQC.matte", lambda self, *args: None)
        yield
