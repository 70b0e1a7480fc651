"""Scene cuts: a lone spike in frame difference is a cut; steady motion is not."""

from __future__ import annotations

import numpy as np
import pytest

from vidswap.errors import ConfigError
from vidswap.faces.cuts import CutConfig, CutDetector


def frames_with_cut(cut_at: int, count: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    shots = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(2)]
    out = []
    for i in range(count):
        base = shots[int(i >= cut_at)].astype(np.int16)
        out.append(np.clip(base + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8))
    return out


class TestCutDetector:
    def test_finds_the_cut(self) -> None:
        detector = CutDetector(CutConfig())
        assert [i for i, f in enumerate(frames_with_cut(12)) if detector.is_cut(f)] == [12]

    def test_panning_is_not_a_cut(self) -> None:
        x = np.arange(400)[None, :, None]
        wide = np.broadcast_to(127 + 100 * np.sin(x / 25.0), (48, 400, 3)).astype(np.uint8)
        detector = CutDetector(CutConfig())
        assert not any(detector.is_cut(np.ascontiguousarray(wide[:, i:i + 64])) for i in range(0, 60, 2))

    def test_exceptions(self) -> None:
        with pytest.raises(ConfigError):
            CutConfig(ratio=0.5)


def test_real_cuts(videos) -> None:
    """hamilton_short cuts at frames 20, 82 and 211; talking_woman has none."""
    from tests.faces.conftest import read_video

    for name, expected in (("hamilton_short.mp4", {20, 82, 211}), ("talking_woman.mp4", set())):
        detector = CutDetector(CutConfig())
        found = {i for i, frame in enumerate(read_video(videos / name)) if detector.is_cut(frame)}
        assert found == expected, name
