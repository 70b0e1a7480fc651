"""The QC data on its own: the face pass counted, the contact sheet's frames, the collector's files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidswap.faces.detect import Face
from vidswap.faces.track import TrackerConfig, track_faces
from vidswap.pipeline.analysis import FaceToSwap
from vidswap.pipeline.qc import FaceStats, RenderQC, RenderQCData, face_stats, load_render_qc, sheet_frames


def _face(x: float) -> Face:
    landmarks = np.array([[x, 10], [x + 10, 10], [x + 5, 15], [x + 2, 20], [x + 8, 20]], np.float32)
    return Face(box=(x - 5, 0, x + 15, 25), score=0.9, landmarks=landmarks)


def test_face_stats_counts_and_jitter() -> None:
    shake = [0, 3, 0, 3, 0, 3, 0, 3]
    detections = [[_face(20 + s)] for s in shake]
    detections[4] = []  # missed: filled by the tracker
    tracks = track_faces(detections, TrackerConfig())
    [track] = tracks
    smoothed = {(track.id, p): np.full((5, 2), 20.0) for p in track.faces}  # perfectly steady
    stats = face_stats(detections, tracks, {6}, smoothed, {100 + p: {track.id} for p in range(8) if p != 2}, 100)
    assert stats.detected.tolist() == [1, 1, 1, 1, 0, 1, 1, 1]
    assert stats.filled.tolist() == [0, 0, 0, 0, 1, 0, 0, 0] and stats.tracked.tolist() == [1] * 8
    assert stats.not_swapped.tolist() == [0, 0, 1, 0, 0, 0, 0, 0] and np.flatnonzero(stats.cut).tolist() == [6]
    assert np.isnan(stats.jitter_raw[[0, 7]]).all() and (stats.jitter_raw[1:4] > 0.1).all()
    assert np.nanmax(stats.jitter_smooth) == 0 and stats.track_jitter_smooth[0] == 0 < stats.track_jitter_raw[0]
    again = FaceStats.from_arrays(stats.to_arrays())
    assert again.first == 100 and np.array_equal(again.filled, stats.filled)


def test_sheet_frames() -> None:
    assert sheet_frames(10, 20, [13, 25], every=4) == [10, 13, 14, 18]
    assert len(sheet_frames(0, 2400)) == 24


class _Encoder:
    """Embeds a crop as its mean colour: an identity that the test can predict."""

    def embed(self, crops: torch.Tensor) -> torch.Tensor:
        return crops.mean(dim=(2, 3))


def test_collector_measures_and_saves(tmp_path: Path) -> None:
    qc = RenderQC(_Encoder(), {"me": torch.tensor([1.0, 0.0, 0.0])}, random_weights=False,  # type: ignore[arg-type]
                  thumbs={1})
    face = FaceToSwap(track=3, landmarks=np.array([[10, 10], [20, 10], [15, 15], [12, 20], [18, 20]], np.float32),
                      source="me")
    swapped = torch.zeros(1, 3, 8, 8)
    swapped[:, 0] = 1  # all red: cosine 1 to (1, 0, 0)
    matte = np.zeros((40, 80), np.uint8)
    matte[5:25, 5:25] = 255
    qc.swaps(1, [face], swapped)
    qc.matte(1, [face], matte)
    qc.swaps(2, [], None)
    qc.matte(2, [], np.zeros((40, 80), np.uint8))
    np.savez(tmp_path / "00000.qc.npz", **qc.data("abc").to_arrays())  # as the segment's render stores it
    data = load_render_qc(tmp_path / "00000.qc.npz")
    assert data.fingerprint == "abc" and not data.random_weights and data.seconds > 0
    assert data.identity.tolist() == [1.0] and data.face_track.tolist() == [3] and data.face_source.tolist() == ["me"]
    assert data.coverage.tolist() == [400 / 3200, 0.0] and data.face_coverage[0] == 1.0
    assert data.thumb_frame.tolist() == [1] and data.thumbs.shape == (1, 80, 160)  # 80 wide: scaled up to 160
    joined = RenderQCData.join([data, RenderQC(_Encoder(), {}, random_weights=True).data()])  # type: ignore[arg-type]
    assert joined.random_weights and joined.frame.tolist() == [1, 2] and len(joined.thumbs) == 1
