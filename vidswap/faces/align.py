"""Alignment: the 256² FaceShifter crop by a similarity transform of 5 landmarks onto a template.

Two template modes, named in each model's config because weights only work with the alignment
they were trained on:

- ``arcface``: the ArcFace 5-point template (112²) scaled to the crop size (ours). The identity
  crop, the swap model's (:meth:`~vidswap.models.family.SwapModel.identity_crop`), is then the
  whole crop resized to 112².
- ``insightface-poses``: the best, by least residual, of insightface's five pose templates
  (left profile ... right profile) at 224², then resized to 256² (ghost's convention). Here the
  resize is folded into the transform, so the frame is sampled once.

Convention: ``(x, y)`` pixel coordinates with pixel centres at integers (OpenCV's
``warpAffine`` convention); an affine transform is a ``(B, 2, 3)`` matrix named by the frames it
connects: ``crop_from_frame`` maps frame pixels to crop pixels, ``frame_from_crop`` the reverse.
Images are ``(B, C, H, W)`` float tensors in any range; where a crop leaves the frame it is
black (0 of [0, 255]), as in training's crops: a model's [-1, 1] crops come from
:func:`warp_to_model_crop`, which warps the pixels and then scales, so the outside is exactly −1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vidswap.errors import ConfigError
from vidswap.faces.templates import ALIGNMENTS, ARCFACE_TEMPLATE, POSE_TEMPLATES, TemplateMode

__all__ = [
    "ALIGNMENTS",
    "ARCFACE_TEMPLATE",
    "POSE_TEMPLATES",
    "TemplateMode",
    "AlignConfig",
    "estimate_similarity",
    "crop_from_frame",
    "invert_affine",
    "transform_points",
    "warp_to_crop",
    "warp_to_model_crop",
    "Aligner",
]




@dataclass(frozen=True, kw_only=True)
class AlignConfig:
    """How faces are cropped.

    Attributes:
        template: ``arcface`` or ``insightface-poses`` (see the module docstring).
        crop_size: side of the square crop in pixels (256 for FaceShifter).
    """

    template: TemplateMode = "arcface"
    crop_size: int = 256

    def __post_init__(self) -> None:
        if self.template not in ALIGNMENTS:
            raise ConfigError(f"alignment: expected one of {', '.join(ALIGNMENTS)}, found {self.template!r}",
                              setting="alignment")
        if self.crop_size < 16:
            raise ConfigError(f"align crop_size must be >= 16, got {self.crop_size}")


def estimate_similarity(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Least-squares similarity transform (rotation, uniform scale, translation) mapping src onto dst.

    The closed form of Umeyama's method in 2-D (no reflection).

    Args:
        src: ``(B, N, 2)`` points.
        dst: ``(B, N, 2)`` or ``(N, 2)`` points.

    Returns:
        ``(B, 2, 3)`` matrices ``M`` with ``dst ≈ M @ [x, y, 1]``.
    """
    dst = dst.expand_as(src)
    src_mean, dst_mean = src.mean(dim=1, keepdim=True), dst.mean(dim=1, keepdim=True)
    s, d = src - src_mean, dst - dst_mean
    var = (s ** 2).sum(dim=(1, 2)).clamp_min(1e-12)
    a = (s * d).sum(dim=(1, 2)) / var                                        # scale * cos
    b = (s[..., 0] * d[..., 1] - s[..., 1] * d[..., 0]).sum(dim=1) / var   # scale * sin
    linear = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], dim=-2)
    translation = dst_mean[:, 0] - (linear @ src_mean[:, 0, :, None])[..., 0]
    return torch.cat([linear, translation[..., None]], dim=-1)


def transform_points(matrix: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Apply ``(B, 2, 3)`` affine matrices to ``(B, N, 2)`` points."""
    return points @ matrix[:, :, :2].transpose(1, 2) + matrix[:, None, :, 2]


def invert_affine(matrix: torch.Tensor) -> torch.Tensor:
    """Inverse of ``(B, 2, 3)`` affine matrices (e.g. ``frame_from_crop`` from ``crop_from_frame``)."""
    inverse = torch.linalg.inv(matrix[:, :, :2])
    return torch.cat([inverse, -(inverse @ matrix[:, :, 2:])], dim=-1)


def _template(points, scale: float, device, dtype) -> torch.Tensor:
    return torch.tensor(points, device=device, dtype=torch.float64).mul(scale).to(dtype)


def crop_from_frame(landmarks: torch.Tensor, config: AlignConfig) -> torch.Tensor:
    """The transform from frame pixels to the aligned crop of each face.

    Args:
        landmarks: ``(B, 5, 2)`` landmarks in frame pixels (ArcFace order).
        config: the template mode and crop size.

    Returns:
        ``(B, 2, 3)`` ``crop_from_frame`` matrices.
    """
    device, dtype = landmarks.device, landmarks.dtype
    if config.template == "arcface":
        # ArcFace's template coordinates scale with the crop side (ArcFace's convention).
        template = _template(ARCFACE_TEMPLATE, config.crop_size / 112, device, dtype)
        return estimate_similarity(landmarks, template)
    templates = _template(POSE_TEMPLATES, 2.0, device, dtype)                     # (5, 5, 2) at 224
    batch = landmarks.shape[0]
    stacked = landmarks[:, None].expand(batch, len(POSE_TEMPLATES), 5, 2).reshape(-1, 5, 2)
    targets = templates[None].expand(batch, -1, -1, -1).reshape(-1, 5, 2)
    matrices = estimate_similarity(stacked, targets)
    residual = (transform_points(matrices, stacked) - targets).norm(dim=-1).sum(dim=-1)
    best = residual.view(batch, -1).argmin(dim=1)
    at_224 = matrices.view(batch, -1, 2, 3)[torch.arange(batch, device=device), best]
    # Resizing 224 -> crop_size with pixel centres at integers: x' = (x + 0.5) * k - 0.5.
    k = config.crop_size / 224
    offset = torch.tensor([0.0, 0.0, 0.5 * k - 0.5], device=device, dtype=dtype)
    return at_224 * k + offset


def warp_to_crop(frames: torch.Tensor, crop_from_frame: torch.Tensor, size: int) -> torch.Tensor:
    """Sample the aligned crops (bilinear, zeros outside the frame: black for [0, 255] or [0, 1]
    pixels; a model's [-1, 1] crops come from :func:`warp_to_model_crop`).

    Args:
        frames: ``(B, C, H, W)`` float, one frame per face (index a frame batch to repeat frames).
        crop_from_frame: ``(B, 2, 3)``.
        size: crop side in pixels.

    Returns:
        ``(B, C, size, size)`` crops.
    """
    from kornia.geometry.transform import warp_affine

    return warp_affine(frames, crop_from_frame.to(frames.dtype), (size, size), mode="bilinear",
                       padding_mode="zeros", align_corners=True)


def warp_to_model_crop(pixels: torch.Tensor, crop_from_frame: torch.Tensor, size: int) -> torch.Tensor:
    """The aligned crops a swap model takes: RGB in [-1, 1], black (exactly −1) outside the frame.

    The one path from frame pixels to the crops of inference (the swap's targets and the
    identity photos): the pixels are warped in [0, 255], where the zero padding is black as in
    training's crops (:func:`warp_to_crop` on [0, 255] frames, stored as uint8), and then scaled,
    so no part of a crop is mid-grey.

    Args:
        pixels: ``(B, 3, H, W)`` RGB in [0, 255] (uint8 or float), one frame per face (an expanded
            frame for several faces of one frame).
        crop_from_frame: ``(B, 2, 3)``.
        size: crop side in pixels.

    Returns:
        ``(B, 3, size, size)`` float32 crops in [-1, 1].
    """
    return warp_to_crop(pixels.float(), crop_from_frame, size) / 127.5 - 1


class Aligner(nn.Module):
    """Module form of :func:`crop_from_frame` + :func:`warp_to_crop` (batched, on any device).

    Args:
        config: template mode and crop size.
    """

    def __init__(self, config: AlignConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, frames: torch.Tensor, landmarks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, H, W)`` frames (one per face) and ``(B, 5, 2)`` landmarks -> crops, crop_from_frame."""
        matrix = crop_from_frame(landmarks.to(frames.dtype), self.config)
        return warp_to_crop(frames, matrix, self.config.crop_size), matrix
