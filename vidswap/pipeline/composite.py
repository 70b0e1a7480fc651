"""Compositing a frame: swapped crops pasted back under soft masks, the matte, the watermark.

Only the region a warped mask touches changes; everywhere else the output frame is the
decoded input frame, bit for bit (:func:`vidswap.faces.blend.paste_back`). The matte is the
same soft mask in frame pixels (the maximum over the frame's faces), for compositors who
re-do the blend in Nuke or Resolve.

A ``dense`` mask is drawn from 468 landmarks found on each face here, where the mask is built
(:class:`DenseMasks`): the model sees an upright crop of the frame around the face's 5
landmarks, and the points are mapped into the aligned crop, where each track's points are
steadied over consecutive frames (``mask.smoothing``).

Convention: frames ``(3, H, W)`` uint8 RGB tensors in, ``(H, W, 3)`` uint8 numpy out; crops
``(B, 3, S, S)`` RGB in [-1, 1]; ``crop_from_frame`` ``(B, 2, 3)`` maps frame pixels to crop
pixels (pixel centres at integers); landmarks ``(B, 5, 2)`` frame pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from vidswap.errors import ConfigError
from vidswap.faces.align import invert_affine, transform_points
from vidswap.faces.blend import Compositor
from vidswap.faces.landmarks import LANDMARK_FILE, LANDMARK_WEIGHTS, DenseLandmarker
from vidswap.faces.mask import MaskConfig, face_mask

if TYPE_CHECKING:
    from vidswap.weights.cache import CacheSettings
    from vidswap.weights.manifest import Manifest

__all__ = ["Composited", "DenseMasks", "composite_frame", "frame_matte", "burn_watermark", "WATERMARK_TEXT"]

#: The visible mark ``--watermark`` burns into each frame.
WATERMARK_TEXT = "SYNTHETIC - vidswap"


@dataclass(frozen=True, eq=False)
class Composited:
    """One output frame and its matte.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 RGB.
        matte: ``(H, W)`` uint8 soft face mask (0 = untouched, 255 = fully swapped), or None
            when no matte was asked for.
    """

    rgb: np.ndarray
    matte: np.ndarray | None


class DenseMasks:
    """Dense landmarks for a render's ``dense`` masks: the landmark model, and each track's
    points of the frame before (crop pixels), which steady the next frame's.

    The points are steadied in the aligned crop, which follows the face's smoothed 5 landmarks:
    there they move only with expression and the model's frame-to-frame jitter, which an
    exponential average (weight ``mask.smoothing`` on the previous frame) damps. A track seen
    in a frame that is not the next one after its last starts afresh.

    Args:
        landmarker: the dense landmark model.
    """

    def __init__(self, landmarker: DenseLandmarker) -> None:
        self.landmarker = landmarker
        self._last: dict[int, tuple[int, Tensor]] = {}

    @classmethod
    def open(cls, *, cache: CacheSettings, manifest: Manifest, offline: bool = False,
             progress: bool = True) -> DenseMasks:
        """With the model from the weights cache (fetched on first use unless ``offline``)."""
        from vidswap.weights.fetch import ensure

        resolved = ensure(LANDMARK_WEIGHTS, cache=cache, manifest=manifest, offline=offline, progress=progress)
        return cls(DenseLandmarker(resolved.path / LANDMARK_FILE))

    def crop_points(self, frame: Tensor, crop_from_frame: Tensor, landmarks: Tensor, *, smoothing: float,
                    tracks: Sequence[int] | None = None, index: int | None = None) -> Tensor:
        """``(B, 468, 2)`` dense landmarks of a frame's faces in their aligned crops' pixels.

        Args:
            frame: ``(3, H, W)`` uint8 RGB.
            crop_from_frame: ``(B, 2, 3)``.
            landmarks: ``(B, 5, 2)`` frame pixels.
            smoothing: weight of a track's previous points, in [0, 1).
            tracks: each face's track id; None: no steadying.
            index: the frame's index (which frame comes next after which).
        """
        found = self.landmarker.from_frame(frame, landmarks.float())
        points = transform_points(crop_from_frame.float(), found.to(crop_from_frame.device))
        if tracks is None or index is None:
            return points
        self._last = {track: last for track, last in self._last.items() if last[0] >= index - 1}
        steady = []
        for track, own in zip(tracks, points, strict=True):
            last = self._last.get(track)
            if last is not None and last[0] == index - 1 and smoothing > 0:
                own = smoothing * last[1] + (1 - smoothing) * own
            self._last[track] = (index, own)
            steady.append(own)
        return torch.stack(steady)


def frame_matte(masks: Tensor, frame_from_crop: Tensor, size: tuple[int, int]) -> Tensor:
    """The crop masks warped into the frame and combined (maximum over faces).

    Args:
        masks: ``(B, 1, S, S)`` in [0, 1].
        frame_from_crop: ``(B, 2, 3)``.
        size: ``(H, W)`` of the frame.

    Returns:
        ``(H, W)`` float in [0, 1].
    """
    from kornia.geometry.transform import warp_affine

    warped = warp_affine(masks, frame_from_crop.to(masks.dtype), size, mode="bilinear",
                         padding_mode="zeros", align_corners=True)
    return warped.amax(dim=0)[0].clamp(0, 1)


def composite_frame(frame: Tensor, swapped: Tensor, originals: Tensor, crop_from_frame: Tensor,
                    landmarks: Tensor, *, mask: MaskConfig,
                    matte: bool = False, dense: DenseMasks | None = None,
                    tracks: Sequence[int] | None = None, index: int | None = None) -> Composited:
    """Paste a frame's swapped faces back.

    Args:
        frame: ``(3, H, W)`` uint8 RGB.
        swapped: ``(B, 3, S, S)`` swapped crops in [-1, 1].
        originals: ``(B, 3, S, S)`` the aligned crops they replace, in [-1, 1] (colour matching).
        crop_from_frame: ``(B, 2, 3)``.
        landmarks: ``(B, 5, 2)`` the faces' landmarks in frame pixels (the mask's shape).
        mask: mask shape, feathering and colour matching.
        matte: also return the matte.
        dense: the dense landmarks, for a ``dense`` mask (the render session opens them).
        tracks: each face's track id, and ``index`` the frame's: a ``dense`` mask is steadied
            along each track.

    Returns:
        The composited frame (and matte).

    Raises:
        ConfigError: a ``dense`` mask without ``dense`` landmarks.
    """
    size = swapped.shape[-1]
    if mask.shape == "dense":
        if dense is None:
            raise ConfigError("mask.shape dense needs the dense landmark model (RenderSession opens it)",
                              setting="mask.shape")
        crop_landmarks = dense.crop_points(frame, crop_from_frame, landmarks, smoothing=mask.smoothing,
                                           tracks=tracks, index=index)
    else:
        crop_landmarks = transform_points(crop_from_frame, landmarks.to(crop_from_frame.dtype))
    masks = face_mask(crop_landmarks.float(), size, mask)
    frame_from_crop = invert_affine(crop_from_frame.double()).float()
    image = frame.float() / 255
    out = Compositor(mask.colour_match)(image, (swapped + 1) / 2, (originals + 1) / 2, masks, frame_from_crop)
    rgb = (out * 255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    alpha = None
    if matte:
        soft = frame_matte(masks, frame_from_crop, (frame.shape[-2], frame.shape[-1]))
        alpha = (soft * 255).round_().to(torch.uint8).cpu().numpy()
    return Composited(rgb=np.ascontiguousarray(rgb), matte=alpha)


def burn_watermark(rgb: np.ndarray, text: str = WATERMARK_TEXT) -> np.ndarray:
    """``rgb`` with ``text`` drawn in its lower left corner (white on a dark outline).

    The text height is about 1/30 of the frame's height, so the mark reads the same at any
    resolution.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB (not modified).

    Returns:
        A marked copy.
    """
    import cv2

    out = rgb.copy()
    height = out.shape[0]
    scale = max(height / 900, 0.3)
    thickness = max(1, round(scale * 2))
    origin = (max(4, height // 60), height - max(4, height // 40))
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out
