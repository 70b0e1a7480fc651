"""Face detection behind one interface: boxes, scores and 5 landmarks per face, batched.

A backend sees frames downscaled so their long side is ``DetectorConfig.long_side`` (YuNet at
full 1080p runs at about 3 frames/s on 2 cores; at 640 it is many times faster and still finds
faces down to ~30 px in 1080p) and returns boxes and landmarks in those pixels; this module
maps them back to frame pixels and applies the score / minimum-size filters.

Convention: frames are ``H x W x 3`` ``uint8`` RGB; coordinates are ``(x, y)`` frame pixels
with pixel centres at integer coordinates; landmarks are, in order, the eye, the other eye,
the nose tip and the two mouth corners, each pair ordered left to right *on screen* (the
ArcFace template's order).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Protocol

from pydantic import Field, Strict

from vidswap.errors import ConfigError
from vidswap.settings import check_settings

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BACKENDS",
    "Backend",
    "DetectorConfig",
    "Face",
    "Detector",
    "RawDetections",
    "create_detector",
    "backend_licence",
    "nms",
    "detect_resized",
]

#: backend name -> "module:class" of its :class:`Detector`.
BACKENDS: dict[str, str] = {
    "yunet_onnx": "vidswap.faces.yunet_onnx:YuNetOnnxDetector",
    "yunet_kornia": "vidswap.faces.yunet_kornia:YuNetKorniaDetector",
    "insightface": "vidswap.faces.insightface:InsightFaceDetector",
}


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face in frame pixels.

    Attributes:
        box: ``(x0, y0, x1, y1)``, top-left and bottom-right corners.
        score: detector confidence in [0, 1].
        landmarks: ``(5, 2)`` float32 ``(x, y)``: eye, eye, nose, mouth corner, mouth corner,
            pairs left to right on screen.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def size(self) -> float:
        """Face size in pixels: the geometric mean of box width and height."""
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, 0.0) * max(y1 - y0, 0.0)) ** 0.5


if TYPE_CHECKING:
    Backend = str
else:  #: A detector backend's name: a key of :data:`BACKENDS` (the schema's and the CLI's choices).
    Backend = Literal[tuple(BACKENDS)]


@dataclass(frozen=True, kw_only=True)
class DetectorConfig:
    """Settings of a face detector (defaults tuned on ``../shared/media``): the pipeline's
    ``detector`` section as it is (names, defaults and bounds are declared here only).

    Attributes:
        backend: one of :data:`BACKENDS`: ``yunet_onnx`` (YuNet, ONNX, in the install, works
            offline, MIT), ``yunet_kornia`` (kornia's YuNet, torch, GPU), ``insightface``
            (SCRFD; its pack).
        long_side: detect on frames downscaled to this long side (pixels; never upscaled);
            0 = full size, else at least 64.
        score_threshold: drop faces scoring lower, in [0, 1].
        nms_threshold: IoU above which the lower-scoring of two boxes is dropped, in [0, 1].
        min_face_size: drop faces smaller than this (box ``sqrt(w*h)``, frame pixels).
        batch_size: frames per forward pass.
        model_pack: insightface pack name (``buffalo_l``...), only for the ``insightface`` backend.
        model_root: folder holding insightface packs; None = insightface's default ``~/.insightface``.
    """

    backend: Backend = "yunet_onnx"
    long_side: Annotated[int, Strict(), Field(ge=0, le=8192)] = 640
    score_threshold: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] = 0.75
    nms_threshold: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] = 0.3
    min_face_size: Annotated[float, Strict(), Field(ge=0.0)] = 16.0
    batch_size: Annotated[int, Strict(), Field(ge=1)] = 8
    model_pack: str = "buffalo_l"
    model_root: Path | None = None

    def __post_init__(self) -> None:
        check_settings(self, "detector")
        if 0 < self.long_side < 64:
            raise ConfigError(f"detector.long_side: expected 0 (full size) or at least 64 pixels, found "
                              f"{self.long_side}", setting="detector.long_side")


@dataclass(frozen=True)
class RawDetections:
    """A backend's output for one frame, in the pixels of the frame it was given.

    Attributes:
        boxes: ``(N, 4)`` float32 ``x0, y0, x1, y1``.
        scores: ``(N,)`` float32 in [0, 1].
        landmarks: ``(N, 5, 2)`` float32 ``(x, y)``.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray


class Detector(Protocol):
    """What every detection backend offers.

    Attributes:
        config: its settings.
        licence: the licence of the model it runs (said before a run, refused by a
            commercial-only run where ``commercial`` is false).
        commercial: whether that licence allows commercial use.
    """

    config: DetectorConfig
    licence: ClassVar[str]
    commercial: ClassVar[bool]

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        """Detect faces in each frame (``H x W x 3`` uint8 RGB); faces sorted by score."""
        ...


def backend_licence(backend: str) -> tuple[str, bool]:
    """The licence of a backend's model and whether it allows commercial use (imports the
    backend's module, not its model)."""
    module_name, attr = BACKENDS[backend].split(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls.licence, cls.commercial


def create_detector(config: DetectorConfig, *, device: str = "cpu") -> Detector:
    """Build the backend named by ``config.backend`` (imports it only now), on ``device`` where it
    runs in torch (the ONNX backend uses the CPU)."""
    module_name, attr = BACKENDS[config.backend].split(":")
    return getattr(importlib.import_module(module_name), attr)(config, device=device)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: ``(N, 4)`` ``x0, y0, x1, y1``.
        scores: ``(N,)``.
        threshold: IoU above which a lower-scoring box is dropped.

    Returns:
        Indices of the kept boxes, highest score first.
    """
    import numpy as np

    order = np.argsort(-scores, kind="stable")
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        lo = np.maximum(boxes[i, :2], boxes[rest, :2])
        hi = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[iou <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _resize(frame: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """Downscale ``frame`` so its long side is ``long_side``; returns it and frame_px / resized_px."""
    import cv2

    h, w = frame.shape[:2]
    if long_side == 0 or max(h, w) <= long_side:
        return frame, 1.0
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return resized, w / size[0]


def detect_resized(
    frames: Sequence[np.ndarray],
    config: DetectorConfig,
    run: Callable[[list[np.ndarray]], list[RawDetections]],
) -> list[list[Face]]:
    """Shared driver of the backends: downscale, batch, run, map back and filter.

    Args:
        frames: ``H x W x 3`` uint8 RGB frames (sizes may differ).
        config: thresholds, long side and batch size.
        run: the backend's forward pass: a list of same-sized resized frames -> one
            :class:`RawDetections` per frame (after the backend's score threshold and NMS).

    Returns:
        Faces per frame, in frame pixels, sorted by score (highest first).
    """
    import numpy as np

    from vidswap.errors import InputError

    resized: list[tuple[np.ndarray, float]] = []
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InputError(f"frame {i}: expected an H x W x 3 uint8 RGB array, "
                             f"got {frame.shape} {frame.dtype}")
        resized.append(_resize(frame, config.long_side))
    out: list[list[Face]] = [[] for _ in frames]
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, (image, _) in enumerate(resized):
        by_size.setdefault(image.shape[:2], []).append(i)
    for indices in by_size.values():
        for start in range(0, len(indices), config.batch_size):
            chunk = indices[start:start + config.batch_size]
            for i, raw in zip(chunk, run([resized[i][0] for i in chunk]), strict=True):
                scale = resized[i][1]
                faces = [
                    Face(box=(float(box[0] * scale), float(box[1] * scale), float(box[2] * scale),
                              float(box[3] * scale)), score=float(score),
                         landmarks=(lm * scale).astype(np.float32))
                    for box, score, lm in zip(raw.boxes, raw.scores, raw.landmarks, strict=True)
                    if score >= config.score_threshold
                ]
                out[i] = sorted((f for f in faces if f.size >= config.min_face_size), key=lambda f: -f.score)
    return out
