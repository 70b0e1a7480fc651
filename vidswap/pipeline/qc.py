"""What a render measures for its QC report: per frame and per track from the face pass
(:class:`FaceStats`), per swapped face from the render (:class:`RenderQC`).

Both are flat numpy arrays, so a job stores them beside ``faces.npz`` (``FACE_QC_FILE``) and
beside each segment (:func:`segment_qc_file`), and ``vidswap report`` reads them back without
re-rendering. This module is the pipeline's side: it measures; :mod:`vidswap.report` presents.

Convention: frame indices are the input's; per-frame arrays start at ``FaceStats.first``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidswap.faces.smooth import jitter

if TYPE_CHECKING:
    import torch

    from vidswap.faces.detect import Face
    from vidswap.faces.track import Track
    from vidswap.models.family import SwapModel
    from vidswap.pipeline.analysis import FaceToSwap
    from vidswap.pipeline.model import ModelFiles
    from vidswap.pipeline.session import RenderSession

__all__ = ["FACE_QC_FILE", "THUMB_WIDTH", "SHEET_ROWS", "FaceStats", "face_stats", "load_face_stats", "RenderQC",
           "RenderQCData", "open_render_qc", "segment_qc_file", "load_render_qc", "random_weights", "sheet_frames"]

#: The face pass's QC arrays in a job folder (beside ``faces.npz``).
FACE_QC_FILE = "qc-faces.npz"
#: Width in pixels of the matte thumbnails the render keeps for the contact sheet.
THUMB_WIDTH = 160


@dataclass(frozen=True, eq=False)
class FaceStats:
    """The face pass, counted: per frame (arrays of length ``frames``) and per track.

    Attributes:
        first: the input index of the first frame.
        detected: raw detections per frame.
        tracked: faces of tracks per frame (detected or filled).
        swapped: faces the render replaces per frame.
        filled: tracked faces the detector missed there (interpolated).
        cut: whether a new shot starts at the frame.
        jitter_raw, jitter_smooth: per frame, the largest landmark jitter of its tracks
            (|second difference| / face size, mean over the 5 points), before and after
            smoothing; NaN where no track has neighbours on both sides.
        track_id, track_first, track_last, track_filled: per track, its id, first and last
            input index, and frames filled.
        track_swapped: per track, whether any frame of it is swapped.
        track_jitter_raw, track_jitter_smooth: per track, :func:`~vidswap.faces.smooth.jitter`.
    """

    first: int
    detected: np.ndarray
    tracked: np.ndarray
    swapped: np.ndarray
    filled: np.ndarray
    cut: np.ndarray
    jitter_raw: np.ndarray
    jitter_smooth: np.ndarray
    track_id: np.ndarray
    track_first: np.ndarray
    track_last: np.ndarray
    track_filled: np.ndarray
    track_swapped: np.ndarray
    track_jitter_raw: np.ndarray
    track_jitter_smooth: np.ndarray

    @property
    def frames(self) -> int:
        """Number of frames counted."""
        return len(self.detected)

    @property
    def not_swapped(self) -> np.ndarray:
        """Tracked faces per frame that the render leaves as they are."""
        return self.tracked - self.swapped

    def cut_frames(self) -> list[int]:
        """The input indices where a new shot starts."""
        return [self.first + int(p) for p in np.flatnonzero(self.cut)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays for :meth:`~vidswap.jobs.store.JobStore.save_arrays`."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> FaceStats:
        """Inverse of :meth:`to_arrays`."""
        values: dict[str, Any] = {f.name: arrays[f.name] for f in fields(cls)}
        return cls(**{**values, "first": int(values["first"])})


def _frame_jitter(landmarks: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per frame of one run: mean |second difference| of the points / face size (NaN at the ends)."""
    out = np.full(len(landmarks), np.nan)
    if len(landmarks) >= 3:
        second = np.linalg.norm(landmarks[2:] - 2 * landmarks[1:-1] + landmarks[:-2], axis=-1)
        out[1:-1] = second.mean(axis=-1) / sizes[1:-1]
    return out


def face_stats(detections: Sequence[Sequence[Face]], tracks: Sequence[Track], cut_at: Collection[int],
               smoothed: Mapping[tuple[int, int], np.ndarray], swapped: Mapping[int, Collection[int]],
               first: int) -> FaceStats:
    """Count the face pass.

    Args:
        detections: raw faces per frame (position = index - ``first``).
        tracks: the tracks (frame keys are positions).
        cut_at: positions that start a new shot.
        smoothed: (track id, position) -> smoothed ``(5, 2)`` landmarks.
        swapped: input index -> ids of the tracks swapped there.
        first: the input index of position 0.
    """
    frames = len(detections)
    tracked, filled, swaps = (np.zeros(frames, np.int64) for _ in range(3))
    raw_j, smooth_j = np.full(frames, np.nan), np.full(frames, np.nan)
    per_track: list[tuple[int, int, int, int, bool, float, float]] = []
    for track in tracks:
        raw_runs, smooth_runs, size_runs = [], [], []
        for positions in track.runs():
            raw = np.stack([track.faces[p].face.landmarks for p in positions]).astype(np.float64)
            smooth = np.stack([smoothed.get((track.id, p), track.faces[p].face.landmarks)
                               for p in positions]).astype(np.float64)
            sizes = np.array([track.faces[p].face.size for p in positions], np.float64)
            raw_runs.append(raw)
            smooth_runs.append(smooth)
            size_runs.append(sizes)
            for values, out in ((_frame_jitter(raw, sizes), raw_j), (_frame_jitter(smooth, sizes), smooth_j)):
                at = np.array(positions)
                out[at] = np.fmax(out[at], values)
        is_swapped = False
        for position, face in track.faces.items():
            tracked[position] += 1
            filled[position] += face.interpolated
            if track.id in swapped.get(first + position, ()):
                swaps[position] += 1
                is_swapped = True
        per_track.append((track.id, first + track.first, first + track.last,
                          sum(f.interpolated for f in track.faces.values()), is_swapped,
                          jitter(raw_runs, size_runs), jitter(smooth_runs, size_runs)))
    cut = np.zeros(frames, bool)
    cut[[p for p in cut_at if p < frames]] = True
    columns = list(zip(*per_track, strict=True)) if per_track else [()] * 7
    return FaceStats(first=first, detected=np.array([len(d) for d in detections], np.int64), tracked=tracked,
                     swapped=swaps, filled=filled, cut=cut, jitter_raw=raw_j, jitter_smooth=smooth_j,
                     track_id=np.array(columns[0], np.int64), track_first=np.array(columns[1], np.int64),
                     track_last=np.array(columns[2], np.int64), track_filled=np.array(columns[3], np.int64),
                     track_swapped=np.array(columns[4], bool), track_jitter_raw=np.array(columns[5], np.float64),
                     track_jitter_smooth=np.array(columns[6], np.float64))


def random_weights(files: ModelFiles | None) -> bool:
    """Whether the swap model's file says it is a random initialisation (``vidswap model init``)."""
    from vidswap.weights.metadata import RANDOM_WEIGHTS_LICENCE

    return files is not None and files.aei.licence == RANDOM_WEIGHTS_LICENCE


def open_render_qc(session: RenderSession, identities: Mapping[str, torch.Tensor],
                   stats: FaceStats | None) -> RenderQC:
    """The collector of a render of ``session``'s frames (a streaming run's, or any of a job's
    segments): its model, the source ``identities`` on its device, whether its weights are random,
    the input's rotation, its batch, and the contact sheet's frames of the whole run (with the
    face pass's scene cuts)."""
    swapper, frames = session.swapper, session.schedule.frames
    return RenderQC(swapper.model, {name: z.to(swapper.device) for name, z in identities.items()},
                    random_weights=random_weights(session.files), rotation=session.info.video.rotation,
                    batch_size=session.batch,
                    thumbs=sheet_frames(frames.start, frames.start + frames.count, stats.cut_frames() if stats else ()))


def segment_qc_file(segment_file: Path) -> Path:
    """Where the render's QC of a segment lies: beside the segment (``00042.qc.npz``)."""
    return segment_file.with_name(segment_file.name.split(".")[0] + ".qc.npz")


@dataclass(frozen=True, eq=False)
class RenderQCData:
    """What :class:`RenderQC` measured over some frames.

    Attributes:
        face_frame, face_track, face_source: per swapped face, its frame, track id and source name.
        identity: per swapped face, cosine of the swapped crop's identity embedding to its
            source's z_id (NaN: not measured).
        face_coverage: per swapped face, the matte's mean over the face's box (landmark box
            grown to twice its size), in [0, 1]; NaN without a matte.
        frame: the frames rendered; ``coverage`` the fraction of each frame under the matte
            (NaN without a matte).
        thumb_frame: frames whose matte thumbnail ``thumbs`` (``(K, h, THUMB_WIDTH)`` uint8) was kept.
        random_weights: the model is a random initialisation: the identity figures mean nothing.
        seconds: wall time from the collector's start to its save (the render of those frames).
        fingerprint: the segment fingerprint the data belongs to ("" outside a job).
    """

    face_frame: np.ndarray
    face_track: np.ndarray
    face_source: np.ndarray
    identity: np.ndarray
    face_coverage: np.ndarray
    frame: np.ndarray
    coverage: np.ndarray
    thumb_frame: np.ndarray
    thumbs: np.ndarray
    random_weights: bool
    seconds: float
    fingerprint: str

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays (what a segment's render stores beside it, :func:`segment_qc_file`)."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> RenderQCData:
        """Inverse of :meth:`to_arrays`."""
        values: dict[str, Any] = {f.name: arrays[f.name] for f in fields(cls)}
        return cls(**{**values, "random_weights": bool(values["random_weights"]),
                      "seconds": float(values["seconds"]), "fingerprint": str(values["fingerprint"])})

    @classmethod
    def join(cls, parts: Sequence[RenderQCData]) -> RenderQCData:
        """The data of several segments as one (in the given order)."""
        if not parts:
            raise ValueError("RenderQCData.join needs at least one part")
        arrays: dict[str, Any] = {f.name: np.concatenate([np.asarray(getattr(p, f.name)) for p in parts])
                  for f in fields(cls) if f.name not in ("thumbs", "random_weights", "seconds", "fingerprint")}
        kept = [p.thumbs for p in parts if len(p.thumbs)]  # an empty part's thumbs have no height
        arrays["thumbs"] = np.concatenate(kept) if kept else parts[0].thumbs
        return cls(**arrays, random_weights=any(p.random_weights for p in parts),
                   seconds=sum(p.seconds for p in parts), fingerprint="")


class RenderQC:
    """Measures the render: identity of each swapped crop to its source (the model's own encoder,
    as FaceShifter's ID retrieval), matte coverage, and matte thumbnails of the contact sheet's
    frames. A render calls :meth:`swaps` once per frame with its swapped crops (the swap stage)
    and :meth:`matte` once per frame with its matte (the composite stage); then :meth:`data`,
    which a job stores per segment.

    Args:
        model: the swap model (its :meth:`~vidswap.models.family.SwapModel.embed`).
        identities: source name -> ``(c_id,)`` z_id, on the model's device.
        random_weights: the model is a random initialisation (see :func:`random_weights`).
        thumbs: frames whose matte thumbnail to keep (:func:`sheet_frames`).
        rotation: the input's rotation (degrees): the render's mattes (and its faces' landmarks)
            are as stored; the contact sheet's thumbnails are turned upright.
        batch_size: swapped crops embedded per identity-encoder call (the render's swap batch):
            one call per crop costs more than the rest of the measures together, and the
            encoder's activations for a larger batch are memory the render would not need.
    """

    def __init__(self, model: SwapModel, identities: Mapping[str, torch.Tensor], *, random_weights: bool,
                 thumbs: Collection[int] = (), rotation: int = 0, batch_size: int = 8) -> None:
        self.model, self.identities, self.random, self.rotation = model, identities, random_weights, rotation
        self.batch_size = batch_size
        self.thumb_at = set(thumbs)
        self.started = time.perf_counter()
        self._faces: list[tuple[int, int, str, float]] = []
        self._face_coverage: dict[tuple[int, int], float] = {}
        self._frames: list[tuple[int, float]] = []
        self._thumbs: list[tuple[int, np.ndarray]] = []
        self._pending: list[tuple[int, tuple[FaceToSwap, ...], torch.Tensor]] = []

    def swaps(self, index: int, faces: Sequence[FaceToSwap], swapped: torch.Tensor | None) -> None:
        """Measure the identity of one frame's swapped faces (embedded in batches of
        ``batch_size`` crops across frames).

        Args:
            index: the frame's input index.
            faces: the faces swapped there (empty: the frame passed through).
            swapped: ``(B, 3, S, S)`` their swapped crops in [-1, 1] (None without faces).
        """
        if not faces or swapped is None:
            return
        self._pending.append((index, tuple(faces), swapped))
        if sum(len(f) for _, f, _ in self._pending) >= self.batch_size:
            self._embed_pending()

    def _embed_pending(self) -> None:
        import torch
        import torch.nn.functional as F

        if not self._pending:
            return
        faces = [(index, face) for index, fs, _ in self._pending for face in fs]
        with torch.inference_mode():
            embedded = self.model.embed(torch.cat([crops for _, _, crops in self._pending]).float())
            sources = torch.stack([self.identities[face.source] for _, face in faces]).to(embedded)
            similarity = F.cosine_similarity(embedded, sources, dim=-1).tolist()
        self._pending.clear()
        for (index, face), value in zip(faces, similarity, strict=True):
            self._faces.append((index, face.track, face.source, value))

    def matte(self, index: int, faces: Sequence[FaceToSwap], matte: np.ndarray | None) -> None:
        """Measure one rendered frame's matte.

        Args:
            index: the frame's input index.
            faces: the faces swapped there.
            matte: ``(H, W)`` uint8 matte of the frame (None when the render made none).
        """
        from vidswap.io.reader import upright

        for face in faces:
            self._face_coverage[index, face.track] = _box_mean(matte, face.landmarks)
        self._frames.append((index, float(matte.mean()) / 255 if matte is not None else float("nan")))
        if matte is not None and index in self.thumb_at:
            self._thumbs.append((index, _thumbnail(upright(matte, self.rotation))))

    def data(self, fingerprint: str = "") -> RenderQCData:
        """What was measured so far."""
        self._embed_pending()
        faces = list(zip(*self._faces, strict=True)) if self._faces else [()] * 4
        frames = list(zip(*self._frames, strict=True)) if self._frames else [()] * 2
        coverage = [self._face_coverage.get((i, t), float("nan")) for i, t, _, _ in self._faces]
        thumbs = np.stack([t for _, t in self._thumbs]) if self._thumbs else np.zeros((0, 1, THUMB_WIDTH), np.uint8)
        return RenderQCData(face_frame=np.array(faces[0], np.int64), face_track=np.array(faces[1], np.int64),
                            face_source=np.array(faces[2], np.str_), identity=np.array(faces[3], np.float64),
                            face_coverage=np.array(coverage, np.float64), frame=np.array(frames[0], np.int64),
                            coverage=np.array(frames[1], np.float64),
                            thumb_frame=np.array([i for i, _ in self._thumbs], np.int64), thumbs=thumbs,
                            random_weights=self.random, seconds=time.perf_counter() - self.started,
                            fingerprint=fingerprint)



#: Contact-sheet rows aimed at when no spacing is given (plus one at every scene cut).
SHEET_ROWS = 24


def sheet_frames(start: int, stop: int, cuts: Collection[int] = (), every: int | None = None) -> list[int]:
    """The contact sheet's frames: every ``every`` frames from ``start`` (None: spaced for about
    :data:`SHEET_ROWS` rows), and each frame in ``cuts`` (input indices where a shot starts)."""
    step = every or max(1, -(-(stop - start) // SHEET_ROWS))
    return sorted({*range(start, stop, step), *(c for c in cuts if start <= c < stop)})


def load_face_stats(root: Path) -> FaceStats | None:
    """The face pass's counts a job stored (:data:`FACE_QC_FILE` in its folder ``root``), or None."""
    path = root / FACE_QC_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return FaceStats.from_arrays({key: data[key] for key in data.files})


def load_render_qc(path: Path) -> RenderQCData:
    """Read a segment's stored measures (never unpickling anything).

    Raises:
        OSError, ValueError, KeyError: missing, damaged or not such a file.
    """
    with np.load(path, allow_pickle=False) as data:
        return RenderQCData.from_arrays({key: data[key] for key in data.files})


def _box_mean(matte: np.ndarray | None, landmarks: np.ndarray) -> float:
    """Mean of the ``(H, W)`` uint8 ``matte`` over the landmarks' box grown to twice its size, in
    [0, 1] (NaN without a matte)."""
    if matte is None:
        return float("nan")
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    centre, half = (low + high) / 2, np.maximum(high - low, 1.0)
    height, width = matte.shape
    x0, y0 = np.clip(np.floor(centre - half), 0, [width, height]).astype(int)
    x1, y1 = np.clip(np.ceil(centre + half), 0, [width, height]).astype(int)
    region = matte[y0:y1, x0:x1]
    return float(region.mean()) / 255 if region.size else float("nan")


def _thumbnail(matte: np.ndarray) -> np.ndarray:
    """The matte shrunk to :data:`THUMB_WIDTH` wide (area average)."""
    import cv2

    height, width = matte.shape
    size = (THUMB_WIDTH, max(1, round(height * THUMB_WIDTH / width)))
    return np.asarray(cv2.resize(matte, size, interpolation=cv2.INTER_AREA), np.uint8)
