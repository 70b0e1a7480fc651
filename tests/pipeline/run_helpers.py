"""Helpers of the run tests: a tiny random model, generated clips and photos, a stub detector,
and decoding for comparisons. The core tests need nothing from ../shared."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidswap.faces.detect import DetectorConfig, Face

__all__ = ["make_tiny_model", "write_photo", "StubDetector", "decode", "packet_pts", "dilate"]


def make_tiny_model(path: Path) -> Path:
    """A complete random ``tiny`` model file, written by ``vidswap model init``."""
    from click.testing import CliRunner

    from vidswap.cli import main

    result = CliRunner().invoke(main, ["model", "init", "--preset", "tiny", "-o", str(path), "--seed", "1"])
    assert result.exit_code == 0, result.output
    return path


def write_photo(path: Path, rgb: np.ndarray) -> Path:
    """Save ``(H, W, 3)`` uint8 RGB as an image file."""
    import cv2

    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


class StubDetector:
    """A detector that finds one face at fixed relative landmarks in every image.

    Args:
        landmarks: ``(5, 2)`` landmarks as fractions of width and height.
    """

    def __init__(self, landmarks: np.ndarray | None = None) -> None:
        self.config = DetectorConfig(batch_size=4)
        self.relative = landmarks if landmarks is not None else np.array(
            [[0.38, 0.40], [0.62, 0.40], [0.50, 0.55], [0.41, 0.70], [0.59, 0.70]], np.float32)
        self.calls = 0

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        self.calls += 1
        out = []
        for frame in frames:
            h, w = frame.shape[:2]
            lm = (self.relative * [w, h]).astype(np.float32)
            box = (float(lm[:, 0].min() - 0.1 * w), float(lm[:, 1].min() - 0.15 * h),
                   float(lm[:, 0].max() + 0.1 * w), float(lm[:, 1].max() + 0.1 * h))
            out.append([Face(box=box, score=0.99, landmarks=lm)])
        return out


def decode(path: Path) -> list[np.ndarray]:
    """Every frame of a video as ``(H, W, 3)`` uint8 RGB (``(H, W)`` for greyscale)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        grey = stream.codec_context.pix_fmt == "gray"
        return [f.to_ndarray(format="gray" if grey else "rgb24") for f in container.decode(stream)]


def packet_pts(path: Path) -> list[int]:
    """Presentation times of every video frame, sorted, in whole milliseconds (Matroska's clock)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(round(float(f.pts * f.time_base) * 1000) for f in container.decode(stream))


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """A boolean mask grown by ``pixels`` in every direction."""
    import cv2

    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0
