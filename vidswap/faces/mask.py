"""Feathered soft masks in crop space: where the swapped face replaces the original.

A mask is built on the aligned crop from the crop's landmarks: either the convex hull of the 5
landmarks pushed out from their centre (``hull``, covers brows to chin) or an ellipse around
them (``ellipse``); then eroded (so the seam sits inside the face), blurred (so it fades) and
faded to exactly 0 at the crop's border (so a shape that reaches past the crop leaves no seam
where the pasted crop ends). It is warped back to the frame together with the crop by :mod:`vidswap.faces.blend`.

Convention: masks are ``(B, 1, S, S)`` float in [0, 1]; landmarks ``(B, 5, 2)`` ``(x, y)`` crop pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidswap.faces.mask_config import MaskConfig

__all__ = ["MaskConfig", "border_band", "face_mask", "FaceMask"]


def _convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Counter-clockwise (in y-down pixels: clockwise on screen) hull, Andrew's monotone chain."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _hull_mask(landmarks: torch.Tensor, size: int, scale: float) -> torch.Tensor:
    centre = landmarks.mean(dim=1, keepdim=True)
    pushed = centre + (landmarks - centre) * scale
    ys, xs = torch.meshgrid(torch.arange(size, device=landmarks.device, dtype=landmarks.dtype),
                            torch.arange(size, device=landmarks.device, dtype=landmarks.dtype), indexing="ij")
    masks = []
    for points in pushed.detach().cpu().double().tolist():
        corners = _convex_hull([tuple(p) for p in points])
        hull = torch.tensor(corners, device=landmarks.device, dtype=landmarks.dtype)
        a, b = hull, hull.roll(-1, dims=0)
        # Inside a convex polygon: on the same side of every edge.
        side = (b[:, 0, None, None] - a[:, 0, None, None]) * (ys - a[:, 1, None, None]) \
            - (b[:, 1, None, None] - a[:, 1, None, None]) * (xs - a[:, 0, None, None])
        masks.append((side >= 0).all(dim=0))
    return torch.stack(masks)[:, None].to(landmarks.dtype)


def _ellipse_mask(landmarks: torch.Tensor, size: int, scale: float) -> torch.Tensor:
    eyes, mouth = landmarks[:, :2].mean(dim=1), landmarks[:, 3:].mean(dim=1)
    centre = (eyes + mouth) / 2
    axis = mouth - eyes
    height = axis.norm(dim=-1).clamp_min(1e-6)                  # eye-to-mouth distance
    down = axis / height[:, None]                              # unit vector from eyes to mouth
    ys, xs = torch.meshgrid(torch.arange(size, device=landmarks.device, dtype=landmarks.dtype),
                            torch.arange(size, device=landmarks.device, dtype=landmarks.dtype), indexing="ij")
    dx = xs[None] - centre[:, 0, None, None]
    dy = ys[None] - centre[:, 1, None, None]
    along = dx * down[:, 0, None, None] + dy * down[:, 1, None, None]
    across = -dx * down[:, 1, None, None] + dy * down[:, 0, None, None]
    semi_along, semi_across = 0.6 * scale * height, 0.5 * scale * height
    inside = (along / semi_along[:, None, None]) ** 2 + (across / semi_across[:, None, None]) ** 2 <= 1
    return inside[:, None].to(landmarks.dtype)


def _border_fade(size: int, band: float, like: torch.Tensor) -> torch.Tensor:
    """``(S, S)`` weights: 0 on the crop's outermost pixels, rising smoothly (smoothstep of the
    distance to the nearest edge) to 1 at ``band`` pixels in, 1 beyond."""
    index = torch.arange(size, device=like.device, dtype=like.dtype)
    edge = torch.minimum(index, size - 1 - index)
    ramp = (edge / band).clamp(0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)
    return torch.minimum(ramp[:, None], ramp[None, :])


def border_band(size: int, config: MaskConfig) -> float:
    """How far in from the crop's border (pixels) the mask is faded to 0: the blur's reach
    (3 sigma), so the fade is as soft as the feather, and at least 3% of the side, so an
    unblurred mask fades too; pixels farther in are untouched."""
    return max(3 * config.blur * size, 0.03 * size, 1.0)


def face_mask(landmarks: torch.Tensor, size: int, config: MaskConfig) -> torch.Tensor:
    """Soft face masks on aligned crops.

    Args:
        landmarks: ``(B, 5, 2)`` landmarks in crop pixels.
        size: crop side in pixels.
        config: shape, reach, erosion and feathering.

    Returns:
        ``(B, 1, size, size)`` masks in [0, 1], exactly 0 beyond the blur's reach and on the
        crop's border (faded over :func:`border_band` pixels).
    """
    from kornia.filters import gaussian_blur2d

    build = _hull_mask if config.shape == "hull" else _ellipse_mask
    mask = build(landmarks, size, config.scale)
    erode = round(config.erosion * size)
    if erode > 0:  # erosion = min filter = -maxpool(-x)
        mask = -F.max_pool2d(-mask, kernel_size=2 * erode + 1, stride=1, padding=erode)
    sigma = config.blur * size
    if sigma > 0:
        radius = max(1, int(3 * sigma))
        mask = gaussian_blur2d(mask, (2 * radius + 1, 2 * radius + 1), (sigma, sigma), border_type="constant")
    return (mask * _border_fade(size, border_band(size, config), mask)).clamp(0, 1)


class FaceMask(nn.Module):
    """Module form of :func:`face_mask`."""

    def __init__(self, size: int, config: MaskConfig) -> None:
        super().__init__()
        self.size, self.config = size, config

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        """``(B, 5, 2)`` crop landmarks -> ``(B, 1, S, S)`` soft masks."""
        return face_mask(landmarks, self.size, self.config)
