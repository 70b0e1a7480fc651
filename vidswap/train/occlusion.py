"""Synthetic occlusions for HEAR-Net training: occluders drawn procedurally, pasted on faces.

HEAR-Net learns to restore what AEI-Net drops (hands, glasses, objects in front of the face),
so its targets get occluders pasted on them (FaceShifter §3.2). Four kinds, each an RGBA patch:

- ``shape``: an ellipse, a convex polygon or a rectangle of one colour with a soft shading;
- ``hand``: a palm with four fingers and a thumb, in a skin tone;
- ``glasses``: two rims, a bridge and temples, with tinted translucent lenses;
- ``cutout``: a random ellipse or polygon cut from another image of the batch (a donor).

Each patch is rotated by ±``max_angle`` degrees, scaled by a factor in ``scale`` and pasted at
a random place over the middle of the crop. Everything is drawn with signed distance fields on
a coordinate grid and pasted with one ``grid_sample``, so it runs batched on any device; all
randomness comes from the ``torch.Generator`` passed in (CPU), so a seed gives the same output.

Convention: images ``B x 3 x H x W`` in [-1, 1]; patch coordinates ``(x, y)`` in [-1, 1], y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vidswap.errors import ConfigError, ShapeError

__all__ = ["KINDS", "OcclusionConfig", "Occlusion", "shape_patch", "hand_patch", "glasses_patch",
           "cutout_patch", "paste_patches", "occlude"]

KINDS = ("shape", "hand", "glasses", "cutout")


@dataclass(frozen=True, kw_only=True)
class OcclusionConfig:
    """How occluders are drawn and pasted.

    Attributes:
        kinds: occluder kinds to choose from, uniformly (see :data:`KINDS`).
        probability: chance that an image gets an occluder at all.
        patch_fraction: side of an occluder at scale 1, as a fraction of the image side.
        scale: (low, high) scale factor of the occluder (the paper: 0.5–1.0).
        max_angle: rotation drawn uniformly in ±``max_angle`` degrees (the paper: 90).
    """

    kinds: tuple[str, ...] = KINDS
    probability: float = 1.0
    patch_fraction: float = 0.6
    scale: tuple[float, float] = (0.5, 1.0)
    max_angle: float = 90.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(self.kinds))
        unknown = [k for k in self.kinds if k not in KINDS]
        if not self.kinds or unknown:
            raise ConfigError(f"occlusion kinds must be some of {', '.join(KINDS)}, got {self.kinds!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"occlusion probability must lie in [0, 1], got {self.probability}")
        if not 0.0 < self.patch_fraction <= 1.0:
            raise ConfigError(f"occlusion patch_fraction must lie in (0, 1], got {self.patch_fraction}")
        low, high = self.scale
        if not 0.0 < low <= high:
            raise ConfigError(f"occlusion scale must be (low, high) with 0 < low <= high, got {self.scale}")
        if not 0.0 <= self.max_angle <= 180.0:
            raise ConfigError(f"occlusion max_angle must lie in [0, 180] degrees, got {self.max_angle}")


@dataclass(frozen=True)
class Occlusion:
    """Occluded images and where they were covered.

    Attributes:
        images: ``B x 3 x H x W`` in [-1, 1].
        masks: ``B x 1 x H x W`` in [0, 1], the occluders' opacity (0: untouched pixel).
    """

    images: Tensor
    masks: Tensor


def _uniform(generator: torch.Generator, low: float, high: float, *shape: int) -> Tensor:
    return torch.rand(shape or (1,), generator=generator).mul(high - low).add(low)


def _grid(size: int) -> tuple[Tensor, Tensor]:
    """(x, y) coordinates of pixel centres of a ``size``² patch, each ``size x size`` in (-1, 1)."""
    axis = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return x, y


def _soft(distance: Tensor, width: float) -> Tensor:
    """Coverage in [0, 1] from a signed distance (negative inside), antialiased over ``width``."""
    return (0.5 - distance / width).clamp(0, 1)


def _ellipse(x: Tensor, y: Tensor, cx: float, cy: float, rx: float, ry: float) -> Tensor:
    """Approximate signed distance to an axis-aligned ellipse."""
    return (torch.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2) - 1) * min(rx, ry)


def _capsule(x: Tensor, y: Tensor, a: tuple[float, float], b: tuple[float, float], radius: float) -> Tensor:
    """Signed distance to a segment a–b thickened by ``radius``."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = (((x - ax) * dx + (y - ay) * dy) / max(dx * dx + dy * dy, 1e-12)).clamp(0, 1)
    return torch.sqrt((x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2) - radius


def _convex_polygon(x: Tensor, y: Tensor, vertices: Tensor) -> Tensor:
    """Signed distance (exact inside, a lower bound outside) to a convex polygon, vertices CCW."""
    a, b = vertices, vertices.roll(-1, dims=0)
    edge = b - a
    normal = torch.stack([edge[:, 1], -edge[:, 0]], dim=1) / edge.norm(dim=1, keepdim=True).clamp_min(1e-12)
    offsets = (x[None] - a[:, 0, None, None]) * normal[:, 0, None, None] \
        + (y[None] - a[:, 1, None, None]) * normal[:, 1, None, None]
    return offsets.amax(dim=0)


def _colour(generator: torch.Generator, low: float = -1.0, high: float = 1.0) -> Tensor:
    return _uniform(generator, low, high, 3)


def _shade(colour: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
    """``3 x P x P`` colour with a vertical light gradient (flat fills look pasted-on)."""
    strength = float(_uniform(generator, 0.0, 0.3))
    return (colour[:, None, None] - strength * y[None]).clamp(-1, 1)


def shape_patch(size: int, generator: torch.Generator) -> Tensor:
    """A random ellipse, convex polygon or rectangle: ``4 x size x size`` RGBA (RGB in [-1, 1],
    alpha in [0, 1])."""
    x, y = _grid(size)
    kind = int(torch.randint(3, (1,), generator=generator))
    if kind == 0:
        rx, ry = _uniform(generator, 0.4, 0.95, 2).tolist()
        distance = _ellipse(x, y, 0.0, 0.0, rx, ry)
    elif kind == 1:
        count = int(torch.randint(3, 8, (1,), generator=generator))
        # Evenly spread angles with jitter: convex and never a sliver.
        jitter = torch.rand(count, generator=generator) * 0.6
        angles = (torch.arange(count) + jitter) / count * 2 * math.pi
        radii = _uniform(generator, 0.5, 0.95, count)
        vertices = torch.stack([radii * angles.cos(), radii * angles.sin()], dim=1)
        distance = _convex_polygon(x, y, vertices)
    else:
        hx, hy = _uniform(generator, 0.2, 0.95, 2).tolist()
        distance = torch.maximum((x.abs() - hx), (y.abs() - hy))
    alpha = _soft(distance, 2.0 / size)
    return torch.cat([_shade(_colour(generator), y, generator), alpha[None]])


def hand_patch(size: int, generator: torch.Generator) -> Tensor:
    """A hand-like blob (palm, four fingers, thumb) in a skin tone: ``4 x size x size`` RGBA."""
    x, y = _grid(size)
    palm_y = float(_uniform(generator, 0.25, 0.4))
    distance = _ellipse(x, y, 0.0, palm_y, 0.42, 0.38)
    spread = float(_uniform(generator, 0.05, 0.25))
    for k, base_x in enumerate((-0.3, -0.1, 0.1, 0.3)):
        length = float(_uniform(generator, 0.45, 0.75)) * (0.8 if k in (0, 3) else 1.0)
        angle = (k - 1.5) * spread
        tip = (base_x + length * math.sin(angle), palm_y - 0.2 - length * math.cos(angle))
        distance = torch.minimum(distance, _capsule(x, y, (base_x, palm_y - 0.2), tip, 0.09))
    side = 1.0 if float(torch.rand(1, generator=generator)) < 0.5 else -1.0
    thumb_tip = (side * 0.75, palm_y - float(_uniform(generator, 0.1, 0.4)))
    distance = torch.minimum(distance, _capsule(x, y, (side * 0.3, palm_y + 0.1), thumb_tip, 0.1))
    # Skin tones from dark to light brown (RGB in [-1, 1]).
    light = float(torch.rand(1, generator=generator))
    skin = torch.tensor([-0.3, -0.6, -0.75]) + light * torch.tensor([1.2, 1.25, 1.2])
    alpha = _soft(distance, 2.0 / size)
    return torch.cat([_shade(skin, y, generator), alpha[None]])


def glasses_patch(size: int, generator: torch.Generator) -> Tensor:
    """Glasses: two rims, a bridge and temples, translucent tinted lenses: ``4 x size x size`` RGBA.

    Drawn wide (lenses at x = ±0.45), so the frame spans the patch like glasses span a face.
    """
    x, y = _grid(size)
    rx, ry = float(_uniform(generator, 0.26, 0.36)), float(_uniform(generator, 0.16, 0.26))
    thickness = float(_uniform(generator, 0.02, 0.06))
    lenses = torch.minimum(_ellipse(x, y, -0.45, 0.0, rx, ry), _ellipse(x, y, 0.45, 0.0, rx, ry))
    frame = lenses.abs() - thickness
    frame = torch.minimum(frame, _capsule(x, y, (-0.45 + rx, -0.05), (0.45 - rx, -0.05), thickness))
    for side in (-1.0, 1.0):
        temple = _capsule(x, y, (side * (0.45 + rx), -0.05), (side * 0.98, -0.1), thickness)
        frame = torch.minimum(frame, temple)
    frame_alpha = _soft(frame, 2.0 / size)
    lens_alpha = _soft(lenses, 2.0 / size) * float(_uniform(generator, 0.1, 0.6))
    frame_colour, tint = _colour(generator, -1.0, 0.2), _colour(generator)
    rgb = frame_alpha * frame_colour[:, None, None] + (1 - frame_alpha) * tint[:, None, None]
    return torch.cat([rgb, torch.maximum(frame_alpha, lens_alpha)[None]])


def cutout_patch(donor: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """A random ellipse or convex polygon cut from a donor image: ``4 x size x size`` RGBA.

    Args:
        donor: ``3 x H x W`` in [-1, 1], another image (H, W >= ``size``).
    """
    _, height, width = donor.shape
    if height < size or width < size:
        raise ShapeError(f"a cut-out of {size}² needs a donor at least that large, got {height}x{width}")
    top = int(torch.randint(height - size + 1, (1,), generator=generator))
    left = int(torch.randint(width - size + 1, (1,), generator=generator))
    rgb = donor[:, top:top + size, left:left + size].float().cpu()
    alpha = shape_patch(size, generator)[3]
    return torch.cat([rgb, alpha[None]])


def paste_patches(images: Tensor, patches: Tensor, *, angle: Tensor, scale: Tensor,
                  centre: Tensor) -> Occlusion:
    """Rotate, scale and paste one RGBA patch on each image (alpha compositing).

    Args:
        images: ``B x 3 x H x W`` in [-1, 1].
        patches: ``B x 4 x P x P``, RGB in [-1, 1] and alpha in [0, 1].
        angle: ``B`` rotations in degrees (counter-clockwise on screen).
        scale: ``B`` patch sides as fractions of the image side.
        centre: ``B x 2`` patch centres ``(x, y)`` in the image's [-1, 1] coordinates.

    Returns:
        The composited images and the pasted alpha.
    """
    if images.ndim != 4 or images.shape[1] != 3 or patches.shape[:2] != (images.shape[0], 4):
        raise ShapeError(f"paste_patches expects images Bx3xHxW and patches Bx4xPxP, got "
                         f"{tuple(images.shape)} and {tuple(patches.shape)}")
    dtype, device = images.dtype, images.device
    rad = torch.deg2rad(angle.to(device, torch.float32))
    cos, sin = rad.cos() / scale.to(device), rad.sin() / scale.to(device)
    # affine_grid maps output (image) coordinates to input (patch) coordinates: the inverse
    # rotation and scale about the centre. y points down, so -angle turns counter-clockwise.
    linear = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], dim=-2)
    centre = centre.to(device, torch.float32)
    theta = torch.cat([linear, -(linear @ centre[:, :, None])], dim=-1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(patches.to(device, torch.float32), grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    rgb, alpha = warped[:, :3].to(dtype), warped[:, 3:].clamp(0, 1).to(dtype)
    return Occlusion(images=(alpha * rgb + (1 - alpha) * images).clamp(-1, 1), masks=alpha)


def occlude(images: Tensor, config: OcclusionConfig, generator: torch.Generator) -> Occlusion:
    """Paste one random occluder on each image (with probability ``config.probability``).

    Cut-outs take their pixels from the next image of the batch (the first for the last), so a
    batch of one uses itself.

    Args:
        images: ``B x 3 x H x W`` in [-1, 1] (any device; the drawing happens on the CPU).
        config: kinds, scale, rotation and probability.
        generator: a CPU generator; the same seed gives the same occlusions.

    Returns:
        The occluded images (same device and dtype) and the occluders' alpha.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> out = occlude(torch.zeros(2, 3, 64, 64), OcclusionConfig(), g)
        >>> tuple(out.images.shape), tuple(out.masks.shape)
        ((2, 3, 64, 64), (2, 1, 64, 64))
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ShapeError(f"occlude expects images Bx3xHxW, got {tuple(images.shape)}")
    batch, _, height, width = images.shape
    size = max(8, round(config.patch_fraction * min(height, width)))
    patches = []
    for i in range(batch):
        kind = config.kinds[int(torch.randint(len(config.kinds), (1,), generator=generator))]
        if kind == "shape":
            patch = shape_patch(size, generator)
        elif kind == "hand":
            patch = hand_patch(size, generator)
        elif kind == "glasses":
            patch = glasses_patch(size, generator)
        else:
            patch = cutout_patch(images[(i + 1) % batch], size, generator)
        if float(torch.rand(1, generator=generator)) >= config.probability:
            patch = torch.zeros_like(patch)
        patches.append(patch)
    angle = _uniform(generator, -config.max_angle, config.max_angle, batch)
    scale = _uniform(generator, *config.scale, batch) * size / min(height, width)
    centre = _uniform(generator, -0.4, 0.4, batch, 2)
    return paste_patches(images, torch.stack(patches), angle=angle, scale=scale, centre=centre)
