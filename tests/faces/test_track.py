"""Tracking: ids through misses and crossings, gap filling, cuts, and who is swapped."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from vidswap.errors import ConfigError
from vidswap.faces.analyze import analyze
from vidswap.faces.detect import DetectorConfig, Face
from vidswap.faces.smooth import SmootherConfig
from vidswap.faces.track import (
    SelectConfig,
    Tracker,
    TrackerConfig,
    box_overlap,
    by_frame,
    select_tracks,
    track_faces,
)

TEMPLATE = np.array([[-0.3, -0.2], [0.3, -0.2], [0.0, 0.05], [-0.25, 0.3], [0.25, 0.3]], np.float32)


def face_at(x: float, y: float, size: float, score: float = 0.9) -> Face:
    return Face(box=(x - size / 2, y - size / 2, x + size / 2, y + size / 2), score=score,
                landmarks=(TEMPLATE * size + [x, y]).astype(np.float32))


class TestTrackerConfig:
    @pytest.mark.parametrize("kwargs", [{"max_gap": -1}, {"max_distance": 0}, {"min_hits": 0},
                                        {"max_size_ratio": 0.5}, {"max_fill_overlap": -0.1},
                                        {"max_fill_overlap": 1.5}])
    def test_exceptions(self, kwargs) -> None:
        with pytest.raises(ConfigError):
            TrackerConfig(**kwargs)


class TestTrackFaces:
    def test_two_faces_crossing_keep_ids(self) -> None:
        # A moves right, B moves left, crossing at frame 10 at different heights.
        frames = [[face_at(100 + 10 * t, 200, 60), face_at(300 - 10 * t, 230, 60)][:: 1 if t % 2 else -1]
                  for t in range(21)]
        tracks = track_faces(frames, TrackerConfig())
        assert len(tracks) == 2
        for track in tracks:
            xs = [track.faces[t].face.landmarks[:, 0].mean() for t in range(21)]
            assert np.all(np.diff(xs) > 0) or np.all(np.diff(xs) < 0)

    def test_gap_filled_by_interpolation(self) -> None:
        frames = [[face_at(100 + 4 * t, 100, 80)] for t in range(20)]
        for t in (7, 8, 9):
            frames[t] = []
        (track,) = track_faces(frames, TrackerConfig())
        assert sorted(track.faces) == list(range(20))
        for t in (7, 8, 9):
            filled = track.faces[t]
            assert filled.interpolated and filled.face.score == 0.0
            expected = face_at(100 + 4 * t, 100, 80).landmarks
            np.testing.assert_allclose(filled.face.landmarks, expected, atol=1e-3)
        assert track.hits == 17

    def test_long_gap_splits_and_short_tracks_dropped(self) -> None:
        frames = [[face_at(100, 100, 80)] if t < 10 or t >= 30 else [] for t in range(40)]
        frames[20] = [face_at(400, 400, 80)]  # a lone false positive
        tracks = track_faces(frames, TrackerConfig(max_gap=5))
        assert [(t.first, t.last) for t in tracks] == [(0, 9), (30, 39)]

    def test_cut_ends_tracks(self) -> None:
        frames = [[face_at(100 + (t >= 10) * 20, 100, 80)] for t in range(20)]
        assert len(track_faces(frames, TrackerConfig())) == 1
        tracks = track_faces(frames, TrackerConfig(), cuts={10})
        assert [(t.first, t.last) for t in tracks] == [(0, 9), (10, 19)]

    def test_size_jump_is_a_new_face(self) -> None:
        tracker = Tracker(TrackerConfig())
        first = tracker.update(0, [face_at(100, 100, 80)])
        assert tracker.update(1, [face_at(100, 100, 160)]) != first

    def test_photo_keeps_single_frame(self) -> None:
        assert len(track_faces([[face_at(50, 50, 40), face_at(150, 50, 40)]], TrackerConfig())) == 2

    def test_by_frame(self) -> None:
        tracks = track_faces([[face_at(100, 100, 50)]] * 3, TrackerConfig())
        grouped = by_frame(tracks, 4)
        assert [len(g) for g in grouped] == [1, 1, 1, 0] and grouped[1][0].frame == 1


def crossing(hidden_missed: set[int], frames: int = 31) -> list[list[Face]]:
    """A front face (size 80, moving right) detected in every frame and a hidden one (size 60, moving
    left, a little lower) that passes behind it around frame 15 and is missed in ``hidden_missed``."""
    return [[face_at(100 + 10 * t, 200, 80)] + ([] if t in hidden_missed else [face_at(400 - 10 * t, 210, 60)])
            for t in range(frames)]


def filled_overlaps(tracks, frames: int) -> list[float]:
    """The overlap of every pair of faces in the same frame where at least one is filled."""
    return [box_overlap(a.face, b.face) for group in by_frame(tracks, frames)
            for i, a in enumerate(group) for b in group[i + 1:] if a.interpolated or b.interpolated]


class CrossingDetector:
    """Finds the faces of :func:`crossing` in frames whose first pixel holds the frame index."""

    def __init__(self, hidden_missed: set[int], frames: int) -> None:
        self.config = DetectorConfig(batch_size=4)
        self.faces = crossing(hidden_missed, frames)

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        return [self.faces[int(frame[0, 0, 0])] for frame in frames]


class TestOcclusion:
    """A track that passes behind another is suspended there, never filled over the front face."""

    BEHIND = set(range(10, 21))  # the detector misses the hidden face from just before to just after
    SHORT = {3, 4}  # a miss where nothing covers it

    def test_filled_face_never_over_the_front_face(self) -> None:
        config = TrackerConfig()
        tracks = track_faces(crossing(self.BEHIND | self.SHORT), config)
        assert len(tracks) == 2
        front, hidden = sorted(tracks, key=lambda t: -t.median_size())
        assert front.hits == 31 and sorted(front.faces) == list(range(31))
        # One id through the crossing: suspended while covered (12-18), filled where it is not.
        assert [(run[0], run[-1]) for run in hidden.runs()] == [(0, 11), (19, 30)]
        assert {t for t, f in hidden.faces.items() if f.interpolated} == {3, 4, 10, 11, 19, 20}
        for t in (3, 4, 10, 19):
            np.testing.assert_allclose(hidden.faces[t].face.landmarks, face_at(400 - 10 * t, 210, 60).landmarks,
                                       atol=1e-3)
        assert all(o <= config.max_fill_overlap for o in filled_overlaps(tracks, 31))

    def test_without_the_bound_the_fill_crosses_the_front_face(self) -> None:
        tracks = track_faces(crossing(self.BEHIND), TrackerConfig(max_fill_overlap=1.0))
        hidden = min(tracks, key=lambda t: t.median_size())
        assert sorted(hidden.faces) == list(range(31))
        assert max(filled_overlaps(tracks, 31)) > 0.3

    def test_analysis_smooths_each_run_on_its_own(self) -> None:
        frames = [(None, np.full((4, 4, 3), t, np.uint8)) for t in range(31)]
        result = analyze(frames, CrossingDetector(self.BEHIND, 31), tracker=TrackerConfig(),
                         smoother=SmootherConfig(), cuts=None)
        assert [len(frame.faces) for frame in result] == [1 if 12 <= t <= 18 else 2 for t in range(31)]
        for t in (11, 19):  # either side of the suspension: on the straight path, not pulled across it
            hidden = min(result[t].faces, key=lambda f: f.face.size)
            assert hidden.interpolated
            truth = face_at(400 - 10 * t, 210, 60).landmarks
            assert np.abs(hidden.smoothed - truth).max() < 0.5

    def test_smaller_of_two_filled_faces_is_suspended(self) -> None:
        # Both missed while they cross: the larger (nearer) keeps its fill, the smaller gives way.
        frames = [[f for i, f in enumerate(frame) if not (i == 0 and 13 <= t <= 17)]
                  for t, frame in enumerate(crossing(set(range(12, 19))))]
        tracks = track_faces(frames, TrackerConfig())
        front, hidden = sorted(tracks, key=lambda t: -t.median_size())
        assert sorted(front.faces) == list(range(31))
        assert all(front.faces[t].interpolated for t in range(13, 18))
        assert not set(range(12, 19)) & set(hidden.faces)
        assert all(o <= TrackerConfig().max_fill_overlap for o in filled_overlaps(tracks, 31))


class TestRealVideo:
    def test_talking_woman_one_track_covers_95_percent(self, talking_woman) -> None:
        frames, detections = talking_woman
        tracks = track_faces(detections, TrackerConfig())
        assert max(len(t.faces) for t in tracks) >= 0.95 * len(frames)

    def test_dropped_frames_filled_within_2px(self, videos) -> None:
        """Drop gaps of 1-3 frames from real detections; the fill lands on the detections.

        Detections themselves scatter 1-2 px around any smooth path from frame to frame, so the bound
        is on the mean distance over the dropped frames, with no frame off by more than 3% of the face.
        """
        from tests.faces.conftest import read_video
        from vidswap.faces.detect import DetectorConfig, create_detector

        detections = create_detector(DetectorConfig()).detect(read_video(videos / "man_neutral.mp4"))
        assert all(len(faces) == 1 for faces in detections)
        starts = range(20, len(detections) - 20, 25)
        dropped = [i for start in starts for i in range(start, start + 1 + start % 3)]
        holed = [[] if i in dropped else faces for i, faces in enumerate(detections)]
        (track,) = track_faces(holed, TrackerConfig())
        errors = []
        for i in dropped:
            filled = track.faces[i]
            assert filled.interpolated
            error = np.linalg.norm(filled.face.landmarks - detections[i][0].landmarks, axis=-1)
            assert error.max() <= 0.03 * detections[i][0].size, (i, error)
            errors.append(error.mean())
        assert np.mean(errors) <= 2.0, errors


class TestSelectTracks:
    def _tracks(self):
        frames = [[face_at(100, 100, 50), face_at(300, 100, 120)] for _ in range(5)]
        return track_faces(frames, TrackerConfig())

    def test_all_and_largest(self) -> None:
        tracks = self._tracks()
        assert select_tracks(tracks, SelectConfig(mode="all")) == {0: 0, 1: 0}
        largest = max(tracks, key=lambda t: t.median_size()).id
        assert select_tracks(tracks, SelectConfig(mode="largest")) == {largest: 0}

    def test_reference_pairs_by_cosine(self) -> None:
        tracks = self._tracks()
        rng = np.random.default_rng(0)
        identities = rng.normal(size=(2, 64))

        def embed(track, face):  # the face's identity plus per-frame noise
            x = face.face.landmarks[:, 0].mean()
            return identities[int(x > 200)] + 0.3 * rng.normal(size=64)

        small = min(tracks, key=lambda t: t.median_size()).id
        big = 1 - small
        refs = [identities[1], identities[0]]  # pair 0: the big face's identity, pair 1: the small one's
        assert select_tracks(tracks, SelectConfig(mode="reference", threshold=0.5), references=refs,
                             embed=embed) == {big: 0, small: 1}
        stranger = [rng.normal(size=64)]
        assert select_tracks(tracks, SelectConfig(mode="reference", threshold=0.5), references=stranger,
                             embed=embed) == {}

    def test_exceptions(self) -> None:
        with pytest.raises(ConfigError):
            SelectConfig(mode="everyone")  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="reference"):
            select_tracks(self._tracks(), SelectConfig(mode="reference"))


class TestCrowd:
    def test_no_filled_face_over_another_face(self, videos) -> None:
        """crowd_1080p.mp4, first 24 frames: a woman walks behind the boy in front and is missed in
        frames 2, 5, 10 and 11; filled, her face covered 35-39% of his (of the smaller box) in two
        frames. Now no pair involving a filled face overlaps by more than 30%, and fills remain
        where nothing covers them."""
        from tests.faces.conftest import read_video
        from vidswap.faces.detect import DetectorConfig, create_detector

        detections = create_detector(DetectorConfig(long_side=640)).detect(
            read_video(videos / "crowd_1080p.mp4", limit=24))

        def report(config: TrackerConfig) -> tuple[int, int]:
            tracks = track_faces(detections, config)
            filled = sum(f.interpolated for t in tracks for f in t.faces.values())
            return sum(o > 0.3 for o in filled_overlaps(tracks, len(detections))), filled

        assert report(TrackerConfig(max_fill_overlap=1.0)) == (2, 17)  # as before the bound
        overlapping, filled = report(TrackerConfig())
        assert overlapping == 0 and filled == 13
