"""Smoothing: streaming = offline, no lag on steady motion, jitter removed, real clips."""

from __future__ import annotations

import numpy as np
import pytest

from vidswap.errors import ConfigError
from vidswap.faces.smooth import (
    Smoother,
    SmootherConfig,
    centred_mean,
    compare_smoothing,
    jitter,
    shift,
    smooth_landmarks,
)


class TestSmootherConfig:
    @pytest.mark.parametrize("kwargs", [{"lag": -1}, {"process_noise": 0}, {"measurement_noise": -1}])
    def test_exceptions(self, kwargs) -> None:
        with pytest.raises(ConfigError):
            SmootherConfig(**kwargs)


class TestSmoothLandmarks:
    @pytest.mark.parametrize("length", [1, 2, 5, 30])
    def test_shapes(self, length) -> None:
        rng = np.random.default_rng(0)
        landmarks = rng.normal(size=(length, 5, 2)) * 3 + 100
        out = smooth_landmarks(landmarks, np.full(length, 100.0), SmootherConfig())
        assert out.shape == (length, 5, 2) and out.dtype == np.float32

    def test_steady_motion_has_no_lag(self) -> None:
        t = np.arange(60, dtype=np.float64)[:, None, None]
        path = 200 + np.array([3.0, -1.5]) * t + np.zeros((1, 5, 2))
        out = smooth_landmarks(path, np.full(60, 120.0), SmootherConfig())
        np.testing.assert_allclose(out, path, atol=0.05)

    def test_noise_jitter_at_least_halved(self) -> None:
        rng = np.random.default_rng(1)
        t = np.arange(200, dtype=np.float64)[:, None, None]
        truth = 300 + 40 * np.sin(t / 15) + np.zeros((1, 5, 2))
        noisy = truth + rng.normal(scale=2.0, size=truth.shape)
        sizes = np.full(200, 200.0)
        out = smooth_landmarks(noisy, sizes, SmootherConfig())
        assert jitter([out], [sizes]) < 0.5 * jitter([noisy], [sizes])
        assert np.abs(out - truth).mean() < np.abs(noisy - truth).mean()

    def test_streaming_equals_offline_and_memory_bounded(self) -> None:
        rng = np.random.default_rng(2)
        landmarks = rng.normal(size=(40, 5, 2)) + 50
        config = SmootherConfig(lag=6)
        smoother = Smoother(config)
        released = []
        for i, lm in enumerate(landmarks):
            got = smoother.push(lm, 80.0)
            released.extend(got)
            assert len(released) == max(0, i + 1 - config.lag)
            assert len(smoother._filtered) <= config.lag  # only the lookahead window is held
        released.extend(smoother.flush())
        np.testing.assert_allclose(np.stack(released), smooth_landmarks(landmarks, np.full(40, 80.0), config))

    def test_lag_8_matches_whole_track(self) -> None:
        rng = np.random.default_rng(3)
        landmarks = np.cumsum(rng.normal(size=(80, 5, 2)), axis=0) + 100
        sizes = np.full(80, 100.0)
        short = smooth_landmarks(landmarks, sizes, SmootherConfig(lag=8))
        whole = smooth_landmarks(landmarks, sizes, SmootherConfig(lag=80))
        assert np.abs(short - whole).max() < 0.05 * np.abs(whole - landmarks).mean() + 0.05


class TestMetrics:
    def test_known_answer(self) -> None:
        lm = np.zeros((4, 1, 2))
        lm[2, 0, 0] = 3.0  # second differences: 3, -6  -> RMS sqrt(22.5) / size
        assert jitter([lm], [np.full(4, 3.0)]) == pytest.approx(np.sqrt(22.5) / 3)
        assert shift([lm + [3.0, 4.0]], [lm], [np.full(4, 5.0)]) == pytest.approx(1.0)

    def test_centred_mean(self) -> None:
        lm = np.arange(6, dtype=np.float64)[:, None, None] * np.ones((1, 1, 2))
        np.testing.assert_allclose(centred_mean(lm)[:, 0, 0], [1, 1.5, 2, 3, 3.5, 4])


@pytest.mark.slow
def test_real_clips_beat_mean5(videos) -> None:
    """On frames of every clip: less jitter and no more shift than a 5-frame mean, half the raw jitter."""
    from tests.faces.conftest import read_video
    from vidswap.faces.detect import DetectorConfig, create_detector
    from vidswap.faces.track import TrackerConfig, track_faces

    detector = create_detector(DetectorConfig())
    for path in sorted(videos.glob("*.mp4")):
        tracks = track_faces(detector.detect(read_video(path, limit=120)), TrackerConfig())
        report = compare_smoothing([t.path() for t in tracks if len(t.faces) >= 10], SmootherConfig())
        assert report.jitter_ours < report.jitter_mean5, path.name
        assert report.jitter_ours <= 0.5 * report.jitter_raw, path.name
        assert report.shift_ours <= report.shift_mean5, path.name
