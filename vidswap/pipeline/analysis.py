"""The face pass of a run: who is where in every frame, and which identity each face takes.

A cheap first pass over the frames keeps only detections (a box, a score and 5 landmarks per
face per frame); frames are dropped as soon as they are detected. Then, on the whole run of
landmarks: tracks with gap filling (a face the detector missed is still swapped, unless it is
behind another face), the choice of swapped tracks (``largest`` and ``reference`` need whole
tracks), and the fixed-lag smoother. The render pass reads the result per frame. Memory grows by a few floats per face
per frame, never by pixels; the same per-frame analysis is what a job stores so a re-render
does not re-detect.

Convention: frame indices are the input's (0 = its first frame); landmarks ``(5, 2)``
``(x, y)`` frame pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vidswap.errors import ConfigError
from vidswap.faces.cuts import CutConfig, CutDetector
from vidswap.faces.detect import Detector, Face
from vidswap.faces.smooth import SmootherConfig, smooth_landmarks
from vidswap.faces.track import SelectConfig, Track, TrackedFace, TrackerConfig, select_tracks, track_faces
from vidswap.pipeline.qc import FaceStats, face_stats
from vidswap.pipeline.schedule import Schedule

__all__ = ["FACE_PASS_SECTIONS", "FaceToSwap", "FaceAnalysis", "detect_frames", "analyse_faces"]

#: The pipeline sections the face pass and the source identities read: a job re-runs the face
#: pass only when one of them (or a file they name) changed for some frame.
FACE_PASS_SECTIONS = ("input", "sources", "swaps", "detector", "smoothing")

_DEFAULT_TRACKER = TrackerConfig()
_DEFAULT_CUTS = CutConfig()

#: Embeds one face per frame: ``(frames, (N, 5, 2) landmarks) -> (N, D)`` embeddings.
EmbedFaces = Callable[[Sequence[np.ndarray], np.ndarray], np.ndarray]
#: Decodes the given frame indices again (for reference matching), in order.
Reread = Callable[[set[int]], Iterator[tuple[int, np.ndarray]]]


@dataclass(frozen=True, eq=False)
class FaceToSwap:
    """One face of one frame that the render replaces.

    Attributes:
        track: its track id.
        landmarks: ``(5, 2)`` smoothed landmarks, frame pixels (what the crop is aligned on).
        source: the name of the source set it takes.
    """

    track: int
    landmarks: np.ndarray
    source: str


@dataclass(frozen=True)
class FaceAnalysis:
    """The face pass's result.

    Attributes:
        faces: frame index -> faces to swap there (frames without any are absent).
        detected: frames in which at least one face was tracked (swapped or not).
        tracks: number of face tracks found.
        frames: number of frames analysed.
        stats: the pass counted per frame and per track, for the QC report (a job stores
            ``stats.to_arrays()`` as :data:`~vidswap.pipeline.qc.FACE_QC_FILE`).
    """

    faces: Mapping[int, tuple[FaceToSwap, ...]]
    detected: int
    tracks: int
    frames: int
    stats: FaceStats | None = None


def detect_frames(frames: Iterable[tuple[int, np.ndarray]], detector_for: Callable[[int], Detector], *,
                  batch_size: int,
                  cuts: CutConfig | None = _DEFAULT_CUTS) -> tuple[list[list[Face]], set[int], int]:
    """Detect faces in batches of frames, keeping only the detections.

    Args:
        frames: ``(index, (H, W, 3) uint8 RGB)`` in order, consecutive indices.
        detector_for: the detector of a frame index (overrides may change it).
        batch_size: frames per detector call.
        cuts: scene-cut settings; None: one shot.

    Returns:
        Faces per frame (position = index - first index), the positions that start a new
        shot, and the first index.
    """
    cut_detector = CutDetector(cuts) if cuts is not None else None
    detections: list[list[Face]] = []
    cut_at: set[int] = set()
    batch: list[tuple[int, np.ndarray]] = []
    first = -1

    def flush() -> None:
        groups: dict[int, tuple[Detector, list[int]]] = {}
        for position, (index, _) in enumerate(batch):
            detector = detector_for(index)
            groups.setdefault(id(detector), (detector, []))[1].append(position)
        found: list[list[Face]] = [[] for _ in batch]
        for detector, positions in groups.values():
            per_frame = detector.detect([batch[p][1] for p in positions])
            for position, faces in zip(positions, per_frame, strict=True):
                found[position] = faces
        detections.extend(found)
        batch.clear()

    for index, rgb in frames:
        first = index if first < 0 else first
        if cut_detector is not None and cut_detector.is_cut(rgb):
            cut_at.add(len(detections) + len(batch))
        batch.append((index, rgb))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return detections, cut_at, max(first, 0)


def _smoothed(tracks: Sequence[Track], schedule: Schedule, first: int) -> dict[tuple[int, int], np.ndarray]:
    """(track id, position) -> smoothed landmarks, each frame smoothed with its own settings and
    each run of a track (see :meth:`Track.runs`) on its own: no path is smoothed across a
    suspension."""
    out: dict[tuple[int, int], np.ndarray] = {}
    for track in tracks:
        for positions in track.runs():
            landmarks = np.stack([track.faces[p].face.landmarks for p in positions])
            sizes = np.array([track.faces[p].face.size for p in positions])
            by_config: dict[SmootherConfig, np.ndarray] = {}
            for p in positions:
                smoothing = schedule.settings(first + p).smoothing
                if smoothing not in by_config:
                    by_config[smoothing] = smooth_landmarks(landmarks, sizes, smoothing)
                out[track.id, p] = by_config[smoothing][p - positions[0]]  # a run has no gaps
    return out


def _matches(tracks: Sequence[Track], schedule: Schedule, first: int, *,
             references: Mapping[str, np.ndarray], embed: EmbedFaces | None,
             reread: Reread | None) -> dict[str, set[int]]:
    """For each distinct swap target (by JSON), the ids of the tracks it selects."""
    targets = {swap.target.model_dump_json(): swap.target
               for spec in schedule.variants() for swap in spec.swaps}
    by_face: dict[tuple[int, int], np.ndarray] = {}
    if any(t.select == "reference" for t in targets.values()) and tracks:
        if embed is None or reread is None:
            raise ConfigError("reference targets need an embedder and a way to re-read frames")
        samples = SelectConfig().samples
        wanted: dict[int, list[TrackedFace]] = {}
        for track in tracks:
            best = sorted((f for f in track.faces.values() if not f.interpolated),
                          key=lambda f: -f.face.score)
            for face in best[:samples]:
                wanted.setdefault(first + face.frame, []).append(face)
        frames, landmarks, face_keys = [], [], []
        for index, rgb in reread(set(wanted)):
            for face in wanted.get(index, ()):
                frames.append(rgb)
                landmarks.append(face.face.landmarks)
                face_keys.append((face.track, face.frame))
        if frames:
            for face_key, vector in zip(face_keys, embed(frames, np.stack(landmarks)), strict=True):
                by_face[face_key] = vector
    chosen: dict[str, set[int]] = {}
    for key, target in targets.items():
        refs = [references[photo.path.as_posix() + f"#{photo.face}"] for photo in target.photos]
        chosen[key] = set(select_tracks(tracks, target.config(), references=refs,
                                        embed=lambda track, face: by_face[track.id, face.frame]))
    return chosen


def analyse_faces(frames: Iterable[tuple[int, np.ndarray]], schedule: Schedule, *,
                  detector_for: Callable[[int], Detector], batch_size: int,
                  references: Mapping[str, np.ndarray] | None = None, embed: EmbedFaces | None = None,
                  reread: Reread | None = None, tracker: TrackerConfig = _DEFAULT_TRACKER,
                  cuts: CutConfig | None = _DEFAULT_CUTS) -> FaceAnalysis:
    """Detect, track, select and smooth the faces of a run of frames.

    Args:
        frames: ``(index, (H, W, 3) uint8 RGB)`` of the frames to render, in order.
        schedule: settings per frame (swaps, detector, smoothing).
        detector_for: the detector of a frame index.
        batch_size: frames per detector call.
        references: embeddings of the target reference photos, keyed ``"PATH#FACE"``
            (``FACE`` is the photo's face index or None).
        embed: embeds faces of re-read frames (reference targets only).
        reread: decodes given frame indices again (reference targets only).
        tracker: tracking and gap settings.
        cuts: scene-cut settings; None: one shot.

    Returns:
        Per frame, the faces to swap and the identity each takes: a face takes the first swap
        (of its frame's settings) whose frames hold the frame and whose target selects its track.
    """
    detections, cut_at, first = detect_frames(frames, detector_for, batch_size=batch_size, cuts=cuts)
    tracks = track_faces(detections, tracker, cuts=cut_at)
    smoothed = _smoothed(tracks, schedule, first)
    chosen = _matches(tracks, schedule, first, references=references or {}, embed=embed, reread=reread)
    ranges = {id(swap): schedule.swap_range(swap.frames)
              for spec in schedule.variants() for swap in spec.swaps}
    faces: dict[int, tuple[FaceToSwap, ...]] = {}
    detected: set[int] = set()
    swapped: dict[int, set[int]] = {}
    for track in tracks:
        for position in track.faces:
            index = first + position
            detected.add(index)
            for swap in schedule.settings(index).swaps:
                frames_of = ranges[id(swap)]
                in_range = frames_of is None or index in frames_of
                if in_range and track.id in chosen[swap.target.model_dump_json()]:
                    face = FaceToSwap(track=track.id, landmarks=smoothed[track.id, position],
                                      source=swap.source)
                    faces[index] = (*faces.get(index, ()), face)
                    swapped.setdefault(index, set()).add(track.id)
                    break
    stats = face_stats(detections, tracks, cut_at, smoothed, swapped, first)
    return FaceAnalysis(faces=faces, detected=len(detected), tracks=len(tracks), frames=len(detections),
                        stats=stats)
