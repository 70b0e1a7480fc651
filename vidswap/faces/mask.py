"""Feathered soft masks in crop space: where the swapped face replaces the original.

A mask is built on the aligned crop from the crop's landmarks: either the convex hull of the 5
landmarks pushed out from their centre (``hull``, covers brows to chin), an ellipse around
them (``ellipse``), or the face oval of the 468 dense landmarks (``dense``, optionally without
the mouth's interior or the eyes, which then stay the target's); then eroded (so the seam sits
inside the face), blurred (so it fades) and faded to exactly 0 at the crop's border (so a shape
that reaches past the crop leaves no seam where the pasted crop ends). It is warped back to the
frame together with the crop by :mod:`vidswap.faces.blend`.

Convention: masks are ``(B, 1, S, S)`` float in [0, 1]; landmarks ``(B, 5, 2)`` (``(B, 468, 2)`` for
``dense``) ``(x, y)`` crop pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidswap.errors import ConfigError
from vidswap.faces.mask_config import MaskConfig

__all__ = ["MaskConfig", "FACE_OVAL", "MOUTH_INTERIOR", "LEFT_EYE", "RIGHT_EYE", "border_band", "dense_region",
           "face_mask", "FaceMask"]

#: Closed outlines in MediaPipe's 468-point face mesh, in order around each (from MediaPipe's
#: ``face_mesh_connections``): the face oval (forehead, temples, jaw, chin), the inner lip line
#: and the eyelids of the person's left and right eye.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
MOUTH_INTERIOR = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)


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


def _polygon_mask(polygons: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, S, S)`` bool: pixel centres inside ``(B, N, 2)`` closed polygons (even-odd rule, so
    any simple polygon, convex or not)."""
    ys, xs = torch.meshgrid(torch.arange(size, device=polygons.device, dtype=polygons.dtype),
                            torch.arange(size, device=polygons.device, dtype=polygons.dtype), indexing="ij")
    a, b = polygons[:, :, None, None], polygons.roll(-1, dims=1)[:, :, None, None]
    straddles = (a[..., 1] > ys) != (b[..., 1] > ys)
    dy = b[..., 1] - a[..., 1]
    crossing_x = a[..., 0] + (ys - a[..., 1]) * (b[..., 0] - a[..., 0]) / torch.where(dy == 0, 1.0, dy)
    crossings = (straddles & (xs < crossing_x)).sum(dim=1)
    return crossings % 2 == 1


def dense_region(points: torch.Tensor, size: int, *, keep_mouth: bool = False, keep_eyes: bool = False
                 ) -> torch.Tensor:
    """The hard dense mask: inside the face oval, outside the regions kept from the target.

    Args:
        points: ``(B, 468, 2)`` dense landmarks in crop pixels.
        size: crop side.
        keep_mouth: leave the mouth's interior out.
        keep_eyes: leave both eyes out.

    Returns:
        ``(B, 1, size, size)`` of 0 and 1, in ``points``' dtype.
    """
    inside = _polygon_mask(points[:, list(FACE_OVAL)], size)
    holes = ([MOUTH_INTERIOR] if keep_mouth else []) + ([LEFT_EYE, RIGHT_EYE] if keep_eyes else [])
    for outline in holes:
        inside &= ~_polygon_mask(points[:, list(outline)], size)
    return inside[:, None].to(points.dtype)


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
        landmarks: ``(B, 5, 2)`` landmarks in crop pixels; ``(B, 468, 2)`` dense ones for ``dense``.
        size: crop side in pixels.
        config: shape, reach, erosion and feathering.

    Returns:
        ``(B, 1, size, size)`` masks in [0, 1], exactly 0 beyond the blur's reach and on the
        crop's border (faded over :func:`border_band` pixels).

    Raises:
        ConfigError: ``dense`` without the 468 dense landmarks (names ``mask.shape``).
    """
    from kornia.filters import gaussian_blur2d

    if config.shape == "dense":
        if landmarks.shape[1] != 468:
            raise ConfigError(f"mask.shape dense needs the 468 dense landmarks of each face, got "
                              f"{landmarks.shape[1]} points", setting="mask.shape")
        mask = dense_region(landmarks, size, keep_mouth=config.keep_mouth, keep_eyes=config.keep_eyes)
    else:
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
        """``(B, 5, 2)`` (or dense ``(B, 468, 2)``) crop landmarks -> ``(B, 1, S, S)`` soft masks."""
        return face_mask(landmarks, self.size, self.config)
