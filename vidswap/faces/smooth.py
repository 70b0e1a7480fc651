"""Temporal smoothing of a track's landmarks: a fixed-lag Kalman (Rauch–Tung–Striebel) smoother.

Each landmark coordinate follows a constant-velocity model whose acceleration is white noise
(``process_noise``); detections are that path plus white noise (``measurement_noise``), both in
units of the face size squared so one setting fits every face size and zoom. A forward Kalman
filter runs over the track; frame ``t`` is released once frame ``t + lag`` is known, by the RTS
backward pass over that window. With ``lag`` 8 the result equals the whole-track smoother to a
small fraction of a pixel. Unlike a moving average it follows steady motion without lag (a
constant velocity is unbiased), and it never restarts its window at fast moves, which would
make jitter worse than raw. Track starts and ends need no special case: the filter starts from
the first detection, and the last frames are smoothed from the frames that exist.

Measured on ``../shared/media/videos`` (``benchmarks/faces.py``): about a third of raw jitter,
below a centred 5-frame mean on both jitter and shift on every clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field, Strict

from vidswap.settings import check_settings

__all__ = ["SmootherConfig", "Smoother", "smooth_landmarks", "centred_mean", "jitter", "shift",
           "SmoothingReport", "compare_smoothing"]


@dataclass(frozen=True, kw_only=True)
class SmootherConfig:
    """Settings of the landmark smoother, a fixed-lag Kalman/RTS smoother per track: the
    pipeline's ``smoothing`` section as it is (names, defaults and bounds are declared here only).

    Attributes:
        lag: lookahead in frames: frame t is final once frame t + lag is seen; 0 = filter only.
        process_noise: variance of the per-frame acceleration, in (face sizes)^2. Larger follows
            motion more closely and smooths less; only the ratio to ``measurement_noise`` matters.
        measurement_noise: variance of detected landmarks around the truth, in (face sizes)^2.
    """

    lag: Annotated[int, Strict(), Field(ge=0, le=120)] = 8
    process_noise: Annotated[float, Strict(), Field(gt=0.0)] = 2.5e-5
    measurement_noise: Annotated[float, Strict(), Field(gt=0.0)] = 1e-4

    def __post_init__(self) -> None:
        check_settings(self, "smoothing")


_F = np.array([[1.0, 1.0], [0.0, 1.0]])  # state (position, velocity) -> next frame
_Q = np.array([[0.25, 0.5], [0.5, 1.0]])  # covariance of one frame of unit white acceleration


class Smoother:
    """Streaming fixed-lag smoother of one track.

    ``push`` one frame's landmarks (detected or interpolated) and get back the frames that are now
    final; ``flush`` at the track's end returns the rest. Frames come out in order.

    Args:
        config: smoother settings.
    """

    def __init__(self, config: SmootherConfig) -> None:
        self.config = config
        self._filtered: list[np.ndarray] = []   # x_{t|t}: (P, 2) position, velocity per coordinate
        self._cov: list[np.ndarray] = []        # P_{t|t}: (2, 2), the same for every coordinate
        self._pred_cov: list[np.ndarray] = []   # P_{t|t-1}
        self._shape: tuple[int, ...] = ()
        self._last: tuple[np.ndarray, np.ndarray]  # the newest x_{t|t}, P_{t|t}

    def push(self, landmarks: np.ndarray, size: float) -> list[np.ndarray]:
        """Add the next frame.

        Args:
            landmarks: ``(..., 2)`` points in frame pixels (usually ``(5, 2)``).
            size: the face size in pixels for this frame (scales the noise variances).

        Returns:
            Smoothed landmarks (same shape) of the frames that became final, oldest first.
        """
        z = np.asarray(landmarks, dtype=np.float64).reshape(-1)
        s2 = max(float(size), 1.0) ** 2
        r = self.config.measurement_noise * s2
        if not self._shape:
            self._shape = np.shape(landmarks)
            x = np.stack([z, np.zeros_like(z)], axis=-1)
            p_pred = np.diag([r * 1e4, 1e-2 * s2])  # position unknown until measured, velocity small
        else:
            x = self._last[0] @ _F.T
            p_pred = _F @ self._last[1] @ _F.T + self.config.process_noise * s2 * _Q
        gain = p_pred[:, 0] / (p_pred[0, 0] + r)
        x = x + (z - x[:, 0])[:, None] * gain[None, :]
        self._last = (x, p_pred - np.outer(gain, p_pred[0]))
        self._filtered.append(x)
        self._cov.append(self._last[1])
        self._pred_cov.append(p_pred)
        out = []
        while len(self._filtered) - 1 >= self.config.lag:
            out.append(self._smoothed(0))
            # Frame 0 is final: nothing reads it again, so memory stays bounded by the lag.
            del self._filtered[0], self._cov[0], self._pred_cov[0]
        return out

    def flush(self) -> list[np.ndarray]:
        """Release every frame not yet released (call at the end of the track)."""
        out = [self._smoothed(t) for t in range(len(self._filtered))]
        self._filtered, self._cov, self._pred_cov = [], [], []
        return out

    def _smoothed(self, t: int) -> np.ndarray:
        end = min(len(self._filtered) - 1, t + self.config.lag)
        x = self._filtered[end]
        for k in range(end - 1, t - 1, -1):  # RTS backward pass over the lookahead window
            gain = self._cov[k] @ _F.T @ np.linalg.inv(self._pred_cov[k + 1])
            x = self._filtered[k] + (x - self._filtered[k] @ _F.T) @ gain.T
        return x[:, 0].reshape(self._shape).astype(np.float32)


def smooth_landmarks(landmarks: np.ndarray, sizes: np.ndarray, config: SmootherConfig) -> np.ndarray:
    """Smooth a whole track (the same result as streaming it through :class:`Smoother`).

    Args:
        landmarks: ``(T, 5, 2)`` per-frame landmarks of one track, frame pixels, no gaps.
        sizes: ``(T,)`` face sizes in pixels.
        config: smoother settings.

    Returns:
        ``(T, 5, 2)`` float32 smoothed landmarks.
    """
    smoother = Smoother(config)
    out: list[np.ndarray] = []
    for lm, size in zip(landmarks, sizes, strict=True):
        out.extend(smoother.push(lm, float(size)))
    out.extend(smoother.flush())
    return np.stack(out) if out else np.zeros((0, 5, 2), np.float32)


def centred_mean(landmarks: np.ndarray, window: int = 5) -> np.ndarray:
    """The plain centred moving average (window shrinking at the ends): the baseline benchmarks beat.

    Args:
        landmarks: ``(T, K, 2)`` one track.
        window: odd number of frames.
    """
    half = window // 2
    return np.stack([landmarks[max(0, t - half):t + half + 1].mean(axis=0) for t in range(len(landmarks))])


def jitter(tracks: Sequence[np.ndarray], sizes: Sequence[np.ndarray]) -> float:
    """RMS of the second difference of landmarks over consecutive frames ÷ face size, pooled over tracks.

    Args:
        tracks: per track, ``(T, K, 2)`` landmarks in consecutive frames.
        sizes: per track, ``(T,)`` face sizes in pixels.
    """
    parts = [np.linalg.norm(lm[2:] - 2 * lm[1:-1] + lm[:-2], axis=-1) / np.asarray(size)[1:-1, None]
             for lm, size in zip(tracks, sizes, strict=True)]
    values = np.concatenate([p.ravel() for p in parts]) if parts else np.zeros(0)
    return float(np.sqrt(np.mean(values ** 2))) if values.size else 0.0


def shift(smoothed: Sequence[np.ndarray], raw: Sequence[np.ndarray], sizes: Sequence[np.ndarray]) -> float:
    """Mean distance between smoothed and raw landmarks ÷ face size, pooled over tracks.

    Args:
        smoothed, raw: per track, ``(T, K, 2)`` landmarks.
        sizes: per track, ``(T,)`` face sizes in pixels.
    """
    parts = [np.linalg.norm(s - r, axis=-1) / np.asarray(size)[:, None]
             for s, r, size in zip(smoothed, raw, sizes, strict=True)]
    values = np.concatenate([p.ravel() for p in parts]) if parts else np.zeros(0)
    return float(np.mean(values)) if values.size else 0.0


@dataclass(frozen=True)
class SmoothingReport:
    """Jitter and shift (both ÷ face size, pooled over tracks) of raw landmarks, a centred
    5-frame mean and this module's smoother, over ``tracks`` tracks of ``frames`` frames."""

    tracks: int
    frames: int
    jitter_raw: float
    jitter_mean5: float
    jitter_ours: float
    shift_mean5: float
    shift_ours: float

    @property
    def passes(self) -> bool:
        """Less jitter and no more shift than the 5-frame mean, and at most half the raw jitter."""
        return (self.jitter_ours < self.jitter_mean5 and self.shift_ours <= self.shift_mean5
                and self.jitter_ours <= 0.5 * self.jitter_raw)


def compare_smoothing(paths: Sequence[tuple[np.ndarray, np.ndarray]], config: SmootherConfig) -> SmoothingReport:
    """Measure the smoother against raw landmarks and a centred 5-frame mean.

    Args:
        paths: per track, ``(T, K, 2)`` landmarks in consecutive frames and ``(T,)`` face sizes.
        config: the smoother's settings.
    """
    raw = [np.asarray(lm, dtype=np.float64) for lm, _ in paths]
    sizes = [np.asarray(size, dtype=np.float64) for _, size in paths]
    base = [centred_mean(lm) for lm in raw]
    ours = [smooth_landmarks(lm, size, config) for lm, size in zip(raw, sizes, strict=True)]
    return SmoothingReport(tracks=len(raw), frames=int(sum(len(lm) for lm in raw)),
                           jitter_raw=jitter(raw, sizes), jitter_mean5=jitter(base, sizes),
                           jitter_ours=jitter(ours, sizes), shift_mean5=shift(base, raw, sizes),
                           shift_ours=shift(ours, raw, sizes))
