"""Compositing: paste swapped crops back into the frame under a soft mask, with colour matching.

Only the region the warped mask touches is computed; wherever the warped mask is 0 the output
frame *is* the input frame (bit-exact), which post-production relies on.

Convention: frames ``(C, H, W)`` and crops ``(B, C, S, S)`` float tensors, RGB; colour matching
wants [0, 1]. ``frame_from_crop`` ``(B, 2, 3)`` maps crop pixels to frame pixels (pixel centres
at integers).
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import nn

from vidswap.errors import ConfigError
from vidswap.faces.align import transform_points
from vidswap.faces.mask_config import ColourMatch

__all__ = ["match_colour", "paste_back", "Compositor"]


def match_colour(swapped: torch.Tensor, original: torch.Tensor, mask: torch.Tensor,
                 space: Literal["lab", "rgb"] = "lab") -> torch.Tensor:
    """Give ``swapped`` the mean and standard deviation of ``original`` inside ``mask``, per channel.

    Args:
        swapped: ``(B, 3, S, S)`` RGB in [0, 1], the swapped crops.
        original: ``(B, 3, S, S)`` RGB in [0, 1], the aligned crops of the original faces.
        mask: ``(B, 1, S, S)`` weights in [0, 1].
        space: statistics in CIE ``lab`` (perceptual) or ``rgb``.

    Returns:
        ``(B, 3, S, S)`` RGB in [0, 1].
    """
    from kornia.color import lab_to_rgb, rgb_to_lab

    a, b = (rgb_to_lab(swapped), rgb_to_lab(original)) if space == "lab" else (swapped, original)
    weight = mask / mask.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (x * weight).sum(dim=(2, 3), keepdim=True)
        std = (((x - mean) ** 2) * weight).sum(dim=(2, 3), keepdim=True).sqrt()
        return mean, std

    (mean_a, std_a), (mean_b, std_b) = stats(a), stats(b)
    out = (a - mean_a) / std_a.clamp_min(1e-4) * std_b + mean_b
    return (lab_to_rgb(out) if space == "lab" else out).clamp(0, 1)


def paste_back(frame: torch.Tensor, crops: torch.Tensor, masks: torch.Tensor,
               frame_from_crop: torch.Tensor) -> torch.Tensor:
    """Paste crops into one frame under their masks (faces in order, later ones on top).

    Args:
        frame: ``(C, H, W)`` float.
        crops: ``(B, C, S, S)`` swapped crops, same range as ``frame``.
        masks: ``(B, 1, S, S)`` soft masks in [0, 1].
        frame_from_crop: ``(B, 2, 3)``.

    Returns:
        ``(C, H, W)``: ``frame`` wherever every warped mask is 0, the blend elsewhere.
    """
    from kornia.geometry.transform import warp_affine

    out = frame.clone()
    _, height, width = frame.shape
    size = crops.shape[-1]
    corners = torch.tensor([[0.0, 0.0], [size - 1, 0.0], [0.0, size - 1], [size - 1, size - 1]],
                           device=frame.device, dtype=frame_from_crop.dtype)
    for crop, mask, matrix in zip(crops, masks, frame_from_crop, strict=True):
        box = transform_points(matrix[None], corners[None])[0]
        # The region the crop covers, one pixel of margin for bilinear sampling.
        x0, y0 = max(0, math.floor(box[:, 0].min()) - 1), max(0, math.floor(box[:, 1].min()) - 1)
        x1, y1 = min(width, math.ceil(box[:, 0].max()) + 2), min(height, math.ceil(box[:, 1].max()) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        roi_from_crop = matrix.clone()
        roi_from_crop[:, 2] -= torch.tensor([x0, y0], device=matrix.device, dtype=matrix.dtype)
        both = torch.cat([crop, mask], dim=0)[None]
        warped = warp_affine(both, roi_from_crop[None].to(both.dtype), (y1 - y0, x1 - x0), mode="bilinear",
                             padding_mode="zeros", align_corners=True)[0]
        pasted, alpha = warped[:-1], warped[-1:].clamp(0, 1)
        region = out[:, y0:y1, x0:x1]
        out[:, y0:y1, x0:x1] = torch.where(alpha > 0, region + alpha * (pasted - region), region)
    return out


class Compositor(nn.Module):
    """Module form of :func:`paste_back` with optional colour matching.

    Args:
        colour: colour matching.

    Raises:
        ConfigError: an unknown ``colour``.
    """

    def __init__(self, colour: ColourMatch = "none") -> None:
        super().__init__()
        if colour not in get_args(ColourMatch):
            raise ConfigError(f"mask.colour_match: expected one of {', '.join(get_args(ColourMatch))}, found "
                              f"{colour!r}", setting="mask.colour_match")
        self.colour = colour

    def forward(self, frame: torch.Tensor, swapped: torch.Tensor, original: torch.Tensor,
                masks: torch.Tensor, frame_from_crop: torch.Tensor) -> torch.Tensor:
        """``(C, H, W)`` frame in [0, 1] and its faces' crops -> the composited frame."""
        if self.colour != "none":
            swapped = match_colour(swapped, original, masks, self.colour)
        return paste_back(frame, swapped, masks, frame_from_crop)
