"""Scene-cut detection, so tracks, gap filling and smoothing never join two shots.

At a cut the face in one shot can land near a face of the next shot and continue its track;
the swap would then switch identities and the smoother would blend two faces. A cut is a frame
whose 32x32 grey thumbnail differs from the previous one by a mean absolute difference both
above ``threshold`` and ``ratio`` times the median difference of the recent frames (hand-held
motion and a hand passing the lens raise every difference; a cut is a lone spike).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from vidswap.errors import ConfigError

__all__ = ["CutConfig", "CutDetector"]


@dataclass(frozen=True, kw_only=True)
class CutConfig:
    """Settings of the cut detector.

    Attributes:
        threshold: least mean absolute grey difference (0-255) between thumbnails at a cut.
        ratio: least multiple of the recent median difference at a cut.
        history: frames in the recent median.
    """

    threshold: float = 20.0
    ratio: float = 4.0
    history: int = 15

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.ratio < 1 or self.history < 1:
            raise ConfigError("cut threshold must be >= 0, ratio >= 1 and history >= 1; got "
                              f"{self.threshold}, {self.ratio}, {self.history}")


class CutDetector:
    """Streaming cut detector: ``is_cut(frame)`` for each frame in order."""

    def __init__(self, config: CutConfig) -> None:
        self.config = config
        self._previous: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=config.history)

    def is_cut(self, frame: np.ndarray) -> bool:
        """Whether ``frame`` (``H x W x 3`` uint8 RGB) starts a new shot (never the first frame)."""
        import cv2

        grey = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA)
        thumb = grey.astype(np.float32)
        previous, self._previous = self._previous, thumb
        if previous is None:
            return False
        diff = float(np.abs(thumb - previous).mean())
        median = float(np.median(self._recent)) if self._recent else 0.0
        self._recent.append(diff)
        return diff >= self.config.threshold and diff >= self.config.ratio * median
