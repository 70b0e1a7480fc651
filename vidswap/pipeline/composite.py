"""Compositing a frame: swapped crops pasted back under soft masks, the matte, the watermark.

The frame stays in its own pixel format (:class:`~vidswap.io.planes.Picture`): only the region
around its faces is in float RGB (:func:`composite_region` blends there), and only the samples
under the matte are written back (:func:`~vidswap.io.planes.paste`); everywhere else the output
frame is the decoded input frame, bit for bit. The matte is the same soft mask in frame pixels
(the maximum over the frame's faces), for compositors who re-do the blend in Nuke or Resolve;
it is 0 exactly where no sample was written.

A ``dense`` mask is drawn from 468 landmarks found on each face here, where the mask is built
(:class:`DenseMasks`): the model sees an upright crop of the frame around the face's 5
landmarks, and the points are mapped into the aligned crop, where each track's points are
steadied over consecutive frames (``mask.smoothing``).

Convention: regions ``(3, h, w)`` float RGB in [0, 1]; crops ``(B, 3, S, S)`` RGB in [-1, 1];
``crop_from_region`` ``(B, 2, 3)`` maps region pixels to crop pixels (pixel centres at integers);
landmarks ``(B, 5, 2)`` region pixels.
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
from vidswap.io.planes import Picture, align_box, paste, region_rgb

if TYPE_CHECKING:
    from vidswap.io.color import Conversion
    from vidswap.weights.cache import CacheSettings
    from vidswap.weights.manifest import Manifest

__all__ = ["Composited", "DenseMasks", "composite_region", "frame_matte", "matte_codes", "burn_watermark",
           "WATERMARK_TEXT"]

#: The visible mark ``--watermark`` burns into each frame.
WATERMARK_TEXT = "SYNTHETIC - vidswap"


@dataclass(frozen=True, eq=False)
class Composited:
    """One output frame and its matte.

    Attributes:
        picture: the frame in the source's pixel format, as stored.
        matte: ``(H, W)`` uint8 soft face mask as stored (0 = untouched, 255 = fully swapped), or
            None when no matte was asked for.
    """

    picture: Picture
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
            frame: ``(3, H, W)`` uint8 RGB (a region of the frame: then the points are its pixels).
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


def matte_codes(soft: Tensor) -> np.ndarray:
    """A soft matte as uint8 codes: ``round(255 * soft)``, at least 1 wherever ``soft`` > 0 (there
    samples may have been written, so the matte says so)."""
    import torch

    codes = (soft * 255).round_().clamp_(0, 255)
    return torch.where(soft > 0, codes.clamp(min=1), codes).to(torch.uint8).cpu().numpy()


def composite_region(region: Tensor, swapped: Tensor, originals: Tensor, crop_from_region: Tensor,
                     landmarks: Tensor, *, mask: MaskConfig, dense: DenseMasks | None = None,
                     tracks: Sequence[int] | None = None, index: int | None = None) -> tuple[Tensor, Tensor]:
    """Paste a frame's swapped faces back into the region around them.

    Args:
        region: ``(3, h, w)`` float RGB in [0, 1] of the frame around its faces.
        swapped: ``(B, 3, S, S)`` swapped crops in [-1, 1].
        originals: ``(B, 3, S, S)`` the aligned crops they replace, in [-1, 1] (colour matching).
        crop_from_region: ``(B, 2, 3)``.
        landmarks: ``(B, 5, 2)`` the faces' landmarks in region pixels (the mask's shape).
        mask: mask shape, feathering and colour matching.
        dense: the dense landmarks, for a ``dense`` mask (the render session opens them; the
            region holds the landmark model's crops, see :func:`~vidswap.pipeline.render.swap_stage`).
        tracks: each face's track id, and ``index`` the frame's: a ``dense`` mask is steadied
            along each track.

    Returns:
        ``(rgb, matte)``: the blended ``(3, h, w)`` region (``region`` itself wherever the
        matte is 0) and its ``(h, w)`` soft matte in [0, 1] (the maximum over the faces).

    Raises:
        ConfigError: a ``dense`` mask without ``dense`` landmarks.
    """
    size = swapped.shape[-1]
    if mask.shape == "dense":
        if dense is None:
            raise ConfigError("mask.shape dense needs the dense landmark model (RenderSession opens it)",
                              setting="mask.shape")
        pixels = (region * 255).round_().clamp_(0, 255).to(torch.uint8)
        crop_landmarks = dense.crop_points(pixels, crop_from_region, landmarks, smoothing=mask.smoothing,
                                           tracks=tracks, index=index)
    else:
        crop_landmarks = transform_points(crop_from_region, landmarks.to(crop_from_region.dtype))
    masks = face_mask(crop_landmarks.float(), size, mask)
    region_from_crop = invert_affine(crop_from_region.double()).float()
    out = Compositor(mask.colour_match)(region, (swapped + 1) / 2, (originals + 1) / 2, masks, region_from_crop)
    soft = frame_matte(masks, region_from_crop, (region.shape[-2], region.shape[-1]))
    return torch.where(soft > 0, out, region), soft


def burn_watermark(picture: Picture, color: Conversion, text: str = WATERMARK_TEXT) -> Picture:
    """``picture`` with ``text`` drawn in its lower left corner (white on a dark outline).

    The text height is about 1/30 of the frame's height, so the mark reads the same at any
    resolution. Only the text's region goes to 8-bit RGB to be drawn, and only the pixels the
    drawing changed are written back.

    Args:
        picture: the frame (not modified).
        color: the source's matrix and range.

    Returns:
        A marked copy.
    """
    import cv2

    height, width = picture.height, picture.width
    scale = max(height / 900, 0.3)
    thickness = max(1, round(scale * 2))
    origin = (max(4, height // 60), height - max(4, height // 40))
    (text_width, text_height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness + 2)
    pad = thickness + 4
    box = align_box((origin[0] - pad, origin[1] - text_height - pad, origin[0] + text_width + pad,
                     origin[1] + baseline + pad), picture.layout, width, height)
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return picture
    region = region_rgb(picture, box, color)
    before = (region.clamp(0, 1) * 255).round_().to(torch.uint8).permute(1, 2, 0).numpy()
    drawn = before.copy()
    at = (origin[0] - x0, origin[1] - y0)
    cv2.putText(drawn, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(drawn, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    changed = torch.from_numpy((drawn != before).any(axis=2))
    marked = torch.from_numpy(drawn).permute(2, 0, 1).float() / 255
    return paste(picture, box, marked, changed.float(), color)
