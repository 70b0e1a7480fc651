"""Face analysis of a run of frames: detect (batched), cut, track, fill gaps, smooth.

This is what ``vidswap faces`` prints and what a render stores per frame so a re-render does not
re-detect. Frames stream through in batches; only the detections are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vidswap.faces.cuts import CutConfig, CutDetector
from vidswap.faces.detect import Detector, Face
from vidswap.faces.smooth import SmootherConfig, smooth_landmarks
from vidswap.faces.track import TrackerConfig, by_frame, track_faces

__all__ = ["AnalyzedFace", "AnalyzedFrame", "analyze"]

_DEFAULT_CUTS = CutConfig()


@dataclass(frozen=True, eq=False)
class AnalyzedFace:
    """One face of one frame after tracking and smoothing.

    Attributes:
        track: track id.
        face: detected (or, when ``interpolated``, interpolated) box, score and landmarks.
        smoothed: ``(5, 2)`` landmarks the swap uses (temporally smoothed), frame pixels.
        interpolated: the detector missed this face here; it was filled from the frames around.
    """

    track: int
    face: Face
    smoothed: np.ndarray
    interpolated: bool


@dataclass(frozen=True)
class AnalyzedFrame:
    """A frame's index, presentation time in seconds (None if unknown) and faces (by track id)."""

    index: int
    pts: float | None
    faces: list[AnalyzedFace]


def analyze(
    frames: Iterable[tuple[float | None, np.ndarray]],
    detector: Detector,
    *,
    tracker: TrackerConfig,
    smoother: SmootherConfig,
    cuts: CutConfig | None = _DEFAULT_CUTS,
) -> list[AnalyzedFrame]:
    """Analyse frames in order.

    Args:
        frames: ``(pts seconds or None, H x W x 3 uint8 RGB)`` in presentation order.
        detector: any :class:`~vidswap.faces.detect.Detector`; fed ``batch_size`` frames at a time.
        tracker: tracking and gap settings.
        smoother: smoothing settings.
        cuts: scene-cut settings; None treats the frames as one shot.

    Returns:
        One :class:`AnalyzedFrame` per input frame.
    """
    batch_size = detector.config.batch_size
    cut_detector = CutDetector(cuts) if cuts is not None else None
    pts: list[float | None] = []
    detections: list[list[Face]] = []
    cut_frames: set[int] = set()
    batch: list[np.ndarray] = []
    for t, frame in frames:
        if cut_detector is not None and cut_detector.is_cut(frame):
            cut_frames.add(len(pts))
        pts.append(t)
        batch.append(frame)
        if len(batch) == batch_size:
            detections.extend(detector.detect(batch))
            batch = []
    if batch:
        detections.extend(detector.detect(batch))
    tracks = track_faces(detections, tracker, cuts=cut_frames)
    smoothed: dict[tuple[int, int], np.ndarray] = {}
    for track in tracks:
        for run in track.runs():  # never smoothed across a suspension behind another face
            landmarks = np.stack([track.faces[i].face.landmarks for i in run])
            sizes = np.array([track.faces[i].face.size for i in run])
            for i, lm in zip(run, smooth_landmarks(landmarks, sizes, smoother), strict=True):
                smoothed[track.id, i] = lm
    return [
        AnalyzedFrame(index=i, pts=pts[i], faces=[
            AnalyzedFace(track=f.track, face=f.face, smoothed=smoothed[f.track, i],
                         interpolated=f.interpolated)
            for f in faces])
        for i, faces in enumerate(by_frame(tracks, len(pts)))
    ]
