"""The analysis driver with a stand-in detector: batching, gaps, cuts and smoothing together."""

from __future__ import annotations

import numpy as np

from tests.faces.test_track import face_at
from vidswap.faces.analyze import analyze
from vidswap.faces.cuts import CutConfig
from vidswap.faces.detect import DetectorConfig
from vidswap.faces.smooth import SmootherConfig
from vidswap.faces.track import TrackerConfig


class ScriptedDetector:
    """Returns a noisy face moving right, missing in frames 10-11; frames carry their index."""

    def __init__(self) -> None:
        self.config = DetectorConfig(batch_size=4)
        self.batches: list[int] = []
        self.rng = np.random.default_rng(0)

    def detect(self, frames):
        self.batches.append(len(frames))
        out = []
        for frame in frames:
            i = int(frame[0, 0, 0])
            face = face_at(100 + 3 * i, 120, 90)
            noisy = face.landmarks + self.rng.normal(scale=1.0, size=(5, 2)).astype(np.float32)
            out.append([] if i in (10, 11) else [type(face)(box=face.box, score=0.9, landmarks=noisy)])
        return out


def test_analyze_fills_and_smooths() -> None:
    frames = [(i / 25, np.full((8, 8, 3), i, np.uint8)) for i in range(30)]
    detector = ScriptedDetector()
    result = analyze(iter(frames), detector, tracker=TrackerConfig(), smoother=SmootherConfig(),
                     cuts=CutConfig(threshold=255))
    assert detector.batches == [4] * 7 + [2]
    assert [a.index for a in result] == list(range(30)) and result[3].pts == 3 / 25
    assert all(len(a.faces) == 1 and a.faces[0].track == 0 for a in result)
    assert [a.index for a in result if a.faces[0].interpolated] == [10, 11]
    truth = np.stack([face_at(100 + 3 * i, 120, 90).landmarks for i in range(30)])
    raw = np.stack([a.faces[0].face.landmarks for a in result])
    smoothed = np.stack([a.faces[0].smoothed for a in result])
    assert np.abs(smoothed - truth).mean() < np.abs(raw - truth).mean()


def test_package_exports_lazily() -> None:
    """``import vidswap.faces`` stays free of torch; every exported name resolves."""
    import subprocess
    import sys

    code = "import sys, vidswap.faces; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    import vidswap.faces as faces

    for name in faces.__all__:
        assert getattr(faces, name) is not None
