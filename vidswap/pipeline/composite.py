"""Compositing a frame: swapped crops pasted back under soft masks, the matte, the watermark.

Only the region a warped mask touches changes; everywhere else the output frame is the
decoded input frame, bit for bit (:func:`vidswap.faces.blend.paste_back`). The matte is the
same soft mask in frame pixels (the maximum over the frame's faces), for compositors who
re-do the blend in Nuke or Resolve.

Convention: frames ``(3, H, W)`` uint8 RGB tensors in, ``(H, W, 3)`` uint8 numpy out; crops
``(B, 3, S, S)`` RGB in [-1, 1]; ``crop_from_frame`` ``(B, 2, 3)`` maps frame pixels to crop
pixels (pixel centres at integers); landmarks ``(B, 5, 2)`` frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vidswap.faces.align import invert_affine, transform_points
from vidswap.faces.blend import Compositor
from vidswap.faces.mask import MaskConfig, face_mask

__all__ = ["Composited", "composite_frame", "frame_matte", "burn_watermark", "WATERMARK_TEXT"]

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
                    matte: bool = False) -> Composited:
    """Paste a frame's swapped faces back.

    Args:
        frame: ``(3, H, W)`` uint8 RGB.
        swapped: ``(B, 3, S, S)`` swapped crops in [-1, 1].
        originals: ``(B, 3, S, S)`` the aligned crops they replace, in [-1, 1] (colour matching).
        crop_from_frame: ``(B, 2, 3)``.
        landmarks: ``(B, 5, 2)`` the faces' landmarks in frame pixels (the mask's shape).
        mask: mask shape, feathering and colour matching.
        matte: also return the matte.

    Returns:
        The composited frame (and matte).
    """
    size = swapped.shape[-1]
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
