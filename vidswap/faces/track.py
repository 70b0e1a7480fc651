"""Tracking: stable ids across frames, gap filling, and the choice of who is swapped.

:class:`Tracker` links each frame's detections to live tracks greedily by a cost that is the
distance between the detection's landmarks and the track's landmarks *predicted* one frame on
at its current velocity, divided by the face size (so two faces crossing keep their ids while
they move apart again). A track survives ``max_gap`` frames unseen. :func:`track_faces` then
drops tracks seen fewer than ``min_hits`` times (false positives) and fills each gap inside a
track by interpolating box and landmarks between the frames around it, so a face the detector
missed for a few frames (fast turns, profiles, a hand passing) is still swapped and the
original face never flashes through. A filled face that overlaps a face of another track in its
frame (one detected there, or a larger filled one: nearer the camera) is the hidden person
passing behind: the track is suspended from the first such frame of the gap to the last and
resumes where it is seen again, so no filled face is pasted over the person in front (whose
face covers the hidden one's anyway).

Convention: boxes ``(x0, y0, x1, y1)`` and landmarks ``(5, 2)`` ``(x, y)`` in frame pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal, Protocol

import numpy as np

from vidswap.errors import ConfigError
from vidswap.faces.detect import Face

__all__ = [
    "TrackerConfig",
    "TrackedFace",
    "Track",
    "Tracker",
    "box_overlap",
    "track_faces",
    "by_frame",
    "SelectConfig",
    "Embedder",
    "select_tracks",
]


@dataclass(frozen=True, kw_only=True)
class TrackerConfig:
    """Settings of the tracker.

    Attributes:
        max_gap: frames a track may go unseen and still be continued (and its gap filled).
        max_distance: largest mean landmark distance, in face sizes, from a track's predicted
            landmarks to a detection that continues it.
        max_size_ratio: largest ratio between a track's last face size and a detection's that
            continues it (a cut to another face of another size starts a new track).
        min_hits: tracks detected in fewer frames are dropped as false positives.
        max_fill_overlap: largest fraction of the smaller box that a filled face may share with a
            face of another track in its frame, in [0, 1]; above it the track is suspended
            there (1 never suspends).
    """

    max_gap: int = 12
    max_distance: float = 0.6
    max_size_ratio: float = 1.4
    min_hits: int = 3
    max_fill_overlap: float = 0.1

    def __post_init__(self) -> None:
        if self.max_gap < 0:
            raise ConfigError(f"tracker max_gap must be >= 0 frames, got {self.max_gap}")
        if self.max_distance <= 0:
            raise ConfigError(f"tracker max_distance must be > 0 face sizes, got {self.max_distance}")
        if self.max_size_ratio < 1:
            raise ConfigError(f"tracker max_size_ratio must be >= 1, got {self.max_size_ratio}")
        if self.min_hits < 1:
            raise ConfigError(f"tracker min_hits must be >= 1, got {self.min_hits}")
        if not 0.0 <= self.max_fill_overlap <= 1.0:
            raise ConfigError(f"tracker max_fill_overlap is a fraction of a box in [0, 1], got "
                              f"{self.max_fill_overlap}")


@dataclass(frozen=True, eq=False)
class TrackedFace:
    """A face in one frame of a track.

    Attributes:
        track: the track id.
        frame: the frame index.
        face: detected face, or one interpolated across a detector miss (score 0).
        interpolated: True when the detector missed the face in this frame.
    """

    track: int
    frame: int
    face: Face
    interpolated: bool = False


@dataclass(eq=False)
class Track:
    """One face followed through frames; ``faces`` maps frame index -> :class:`TrackedFace`."""

    id: int
    faces: dict[int, TrackedFace] = field(default_factory=dict)

    @property
    def first(self) -> int:
        """Index of the first frame."""
        return min(self.faces)

    @property
    def last(self) -> int:
        """Index of the last frame."""
        return max(self.faces)

    def runs(self) -> list[list[int]]:
        """The frames of the track in runs of consecutive frames (more than one run where it was
        suspended behind another face)."""
        runs: list[list[int]] = []
        for frame in sorted(self.faces):
            if runs and frame == runs[-1][-1] + 1:
                runs[-1].append(frame)
            else:
                runs.append([frame])
        return runs

    @property
    def hits(self) -> int:
        """Frames where the face was detected (not interpolated)."""
        return sum(not f.interpolated for f in self.faces.values())

    def median_size(self) -> float:
        """Median face size in pixels over the track."""
        return float(np.median([f.face.size for f in self.faces.values()]))

    def path(self) -> tuple[np.ndarray, np.ndarray]:
        """``(T, 5, 2)`` landmarks and ``(T,)`` face sizes in frame order (runs joined)."""
        frames = sorted(self.faces)
        return (np.stack([self.faces[i].face.landmarks for i in frames]).astype(np.float64),
                np.array([self.faces[i].face.size for i in frames], dtype=np.float64))


class Tracker:
    """Streaming assignment of track ids to each frame's detections.

    Args:
        config: tracker settings.
    """

    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self._next_id = 0
        # track id -> (frame index of last sighting, landmarks there, velocity per frame, size)
        self._live: dict[int, tuple[int, np.ndarray, np.ndarray, float]] = {}

    def update(self, frame: int, faces: Sequence[Face], *, cut: bool = False) -> list[int]:
        """Give each face of ``frame`` a track id (new ids for unmatched faces).

        Args:
            frame: the frame index (increasing between calls).
            faces: that frame's detections.
            cut: ``frame`` starts a new shot: every track ends before it.

        Returns:
            The track id of each face, in the order of ``faces``.
        """
        if cut:
            self._live.clear()
        self._live = {k: v for k, v in self._live.items() if frame - v[0] <= self.config.max_gap + 1}
        pairs = []
        for tid, (last, lm, vel, size) in self._live.items():
            predicted = lm + vel * (frame - last)
            for i, face in enumerate(faces):
                scale = max(size, face.size, 1.0)
                if scale / max(min(size, face.size), 1.0) > self.config.max_size_ratio:
                    continue
                cost = float(np.linalg.norm(face.landmarks - predicted, axis=-1).mean()) / scale
                if cost <= self.config.max_distance:
                    pairs.append((cost, tid, i))
        ids: list[int | None] = [None] * len(faces)
        taken: set[int] = set()
        for _, tid, i in sorted(pairs):
            if ids[i] is None and tid not in taken:
                ids[i] = tid
                taken.add(tid)
        assigned: list[int] = []
        for face, matched in zip(faces, ids, strict=True):
            if matched is None:
                tid = self._next_id
                self._next_id += 1
                vel = np.zeros_like(face.landmarks)
            else:
                tid = matched
                last, lm, old_vel, _ = self._live[tid]
                # Velocity damped towards the newest step, so one noisy step does not fling it.
                vel = 0.5 * old_vel + 0.5 * (face.landmarks - lm) / (frame - last)
            self._live[tid] = (frame, face.landmarks, vel, face.size)
            assigned.append(tid)
        return assigned


def _interpolate(a: Face, b: Face, w: float) -> Face:
    x0, y0, x1, y1 = (float((1 - w) * p + w * q) for p, q in zip(a.box, b.box, strict=True))
    lm = ((1 - w) * a.landmarks + w * b.landmarks).astype(np.float32)
    return Face(box=(x0, y0, x1, y1), score=0.0, landmarks=lm)


def box_overlap(a: Face, b: Face) -> float:
    """The area two faces' boxes share, as a fraction of the smaller box (1: one holds the other)."""
    w = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
    h = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(min(a.size, b.size) ** 2, 1e-12)


def _covered(face: TrackedFace, others: Sequence[TrackedFace], max_overlap: float) -> bool:
    """Whether filled ``face`` lies behind a face of another track: a detected one, or a larger
    filled one (nearer the camera; the lower track id on a tie), overlapping it above the bound."""
    def in_front(other: TrackedFace) -> bool:
        if not other.interpolated:
            return True
        return (other.face.size, -other.track) > (face.face.size, -face.track)

    return any(other.track != face.track and in_front(other) and box_overlap(face.face, other.face) > max_overlap
               for other in others)


def _suspend_covered(tracks: Sequence[Track], frames: int, max_overlap: float) -> None:
    """Drop, in each gap of each track, the filled frames from the first covered one to the last.

    Covering is judged on the faces before any is dropped, so a filled face left in place
    overlaps no face kept in its frame; each run of a track still starts and ends on a detection.
    """
    grouped = by_frame(tracks, frames)
    for track in tracks:
        covered = {frame for frame, face in track.faces.items()
                   if face.interpolated and _covered(face, grouped[frame], max_overlap)}
        detected = sorted(frame for frame, face in track.faces.items() if not face.interpolated)
        for a, b in pairwise(detected):
            hidden = [frame for frame in range(a + 1, b) if frame in covered]
            if hidden:
                for frame in range(hidden[0], hidden[-1] + 1):
                    del track.faces[frame]


def track_faces(detections: Sequence[Sequence[Face]], config: TrackerConfig, *,
                cuts: Collection[int] = ()) -> list[Track]:
    """Track faces through a run of frames, drop short tracks and fill gaps.

    Args:
        detections: per frame (index = position in the sequence), the detected faces.
        config: tracker settings.
        cuts: frames that start a new shot (see :mod:`vidswap.faces.cuts`); no track spans one.

    Returns:
        Tracks with at least ``config.min_hits`` detections (or as many as there are frames),
        ids renumbered 0, 1, ... by first frame; every frame between a track's first and last is
        present (gaps interpolated) except where it was suspended behind another face (see
        ``config.max_fill_overlap`` and :meth:`Track.runs`).
    """
    tracker = Tracker(config)
    raw: dict[int, dict[int, Face]] = {}
    for frame, faces in enumerate(detections):
        for tid, face in zip(tracker.update(frame, faces, cut=frame in cuts), faces, strict=True):
            raw.setdefault(tid, {})[frame] = face
    # A clip shorter than min_hits (a photo) keeps what it has.
    needed = min(config.min_hits, len(detections))
    kept = sorted((seen for seen in raw.values() if len(seen) >= needed), key=min)
    tracks = []
    for new_id, seen in enumerate(kept):
        track = Track(id=new_id)
        frames = sorted(seen)
        for frame in frames:
            track.faces[frame] = TrackedFace(new_id, frame, seen[frame])
        for a, b in pairwise(frames):
            for frame in range(a + 1, b):
                face = _interpolate(seen[a], seen[b], (frame - a) / (b - a))
                track.faces[frame] = TrackedFace(new_id, frame, face, interpolated=True)
        tracks.append(track)
    _suspend_covered(tracks, len(detections), config.max_fill_overlap)
    return tracks


def by_frame(tracks: Sequence[Track], frames: int) -> list[list[TrackedFace]]:
    """Regroup tracks per frame: ``frames`` lists of :class:`TrackedFace`, ordered by track id."""
    out: list[list[TrackedFace]] = [[] for _ in range(frames)]
    for track in sorted(tracks, key=lambda t: t.id):
        for frame, face in track.faces.items():
            out[frame].append(face)
    return out


class Embedder(Protocol):
    """Identity embedding of one face (e.g. ArcFace on its 112² aligned crop)."""

    def __call__(self, track: Track, face: TrackedFace) -> np.ndarray:
        """Return a ``(D,)`` embedding of ``face`` (a face of ``track``)."""
        ...


@dataclass(frozen=True, kw_only=True)
class SelectConfig:
    """Who is swapped.

    Attributes:
        mode: ``all`` tracks, the ``largest`` (median face size), or those matching a
            ``reference`` embedding.
        threshold: least cosine similarity between a track and a reference to match.
        samples: detected faces per track embedded (highest scores), averaged.
    """

    mode: Literal["all", "largest", "reference"] = "all"
    threshold: float = 0.4
    samples: int = 5

    def __post_init__(self) -> None:
        if self.mode not in ("all", "largest", "reference"):
            raise ConfigError(f"select mode must be 'all', 'largest' or 'reference', got {self.mode!r}")
        if not -1.0 <= self.threshold <= 1.0:
            raise ConfigError(f"select threshold is a cosine similarity in [-1, 1], got {self.threshold}")
        if self.samples < 1:
            raise ConfigError(f"select samples must be >= 1, got {self.samples}")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def select_tracks(
    tracks: Sequence[Track],
    config: SelectConfig,
    *,
    references: Sequence[np.ndarray] = (),
    embed: Embedder | Callable[[Track, TrackedFace], np.ndarray] | None = None,
) -> Mapping[int, int]:
    """Choose the tracks to swap and, for each, which (reference -> source) pair applies.

    Args:
        tracks: the tracks of a video.
        config: the selection mode and threshold.
        references: ``(D,)`` embeddings of the reference faces, one per (reference -> source) pair;
            needed in ``reference`` mode.
        embed: embeds a face of a track; needed in ``reference`` mode.

    Returns:
        track id -> pair index (always 0 in ``all`` and ``largest`` modes). In ``reference`` mode a
        track goes to the reference it resembles most, if that similarity reaches the threshold.

    Raises:
        ConfigError: ``reference`` mode without references or an embedder.
    """
    if config.mode == "all":
        return {t.id: 0 for t in tracks}
    if config.mode == "largest":
        return {max(tracks, key=Track.median_size).id: 0} if tracks else {}
    if not references or embed is None:
        raise ConfigError("select mode 'reference' needs at least one reference embedding and an embedder")
    refs = np.stack([_unit(np.asarray(r, dtype=np.float64)) for r in references])
    chosen = {}
    for track in tracks:
        faces = sorted((f for f in track.faces.values() if not f.interpolated), key=lambda f: -f.face.score)
        embeddings = [_unit(np.asarray(embed(track, f), dtype=np.float64)) for f in faces[:config.samples]]
        mean = np.mean(embeddings, axis=0)
        similarity = refs @ _unit(mean)
        best = int(np.argmax(similarity))
        if similarity[best] >= config.threshold:
            chosen[track.id] = best
    return chosen
