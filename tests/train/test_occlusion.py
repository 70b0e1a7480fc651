"""Synthetic occluders: deterministic per seed, cover part of the image, stay in range."""

from __future__ import annotations

import pytest
import torch

from vidswap.errors import ConfigError, ShapeError
from vidswap.train.occlusion import (
    KINDS,
    OcclusionConfig,
    cutout_patch,
    glasses_patch,
    hand_patch,
    occlude,
    paste_patches,
    shape_patch,
)


def _images(batch: int = 4, size: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    return torch.rand(batch, 3, size, size, generator=g) * 1.6 - 0.8


class TestOcclude:
    def test_same_seed_same_output(self) -> None:
        x = _images()
        a = occlude(x, OcclusionConfig(), torch.Generator().manual_seed(5))
        b = occlude(x, OcclusionConfig(), torch.Generator().manual_seed(5))
        c = occlude(x, OcclusionConfig(), torch.Generator().manual_seed(6))
        assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
        assert not torch.equal(a.images, c.images)

    @pytest.mark.parametrize("kind", KINDS)
    def test_covers_part_of_the_image(self, kind: str) -> None:
        x = _images(batch=6)
        out = occlude(x, OcclusionConfig(kinds=(kind,)), torch.Generator().manual_seed(1))
        covered = out.masks.mean(dim=(1, 2, 3))
        assert (covered > 0.005).all() and (covered < 0.9).all(), covered
        untouched = out.masks == 0
        assert torch.equal(out.images[untouched.expand_as(x)], x[untouched.expand_as(x)])
        opaque = (out.masks > 0.99).expand_as(x)
        if kind != "cutout":  # a cut-out may copy pixels equal to the target's only by chance
            assert (out.images[opaque] - x[opaque]).abs().mean() > 0.05

    def test_stays_in_range_and_keeps_dtype(self) -> None:
        x = torch.full((3, 3, 48, 48), 0.99, dtype=torch.float64)
        out = occlude(x, OcclusionConfig(), torch.Generator().manual_seed(2))
        assert out.images.dtype == torch.float64 and out.images.shape == x.shape
        assert out.images.min() >= -1 and out.images.max() <= 1
        assert out.masks.min() >= 0 and out.masks.max() <= 1

    def test_probability_zero_leaves_images(self) -> None:
        x = _images()
        out = occlude(x, OcclusionConfig(probability=0.0), torch.Generator().manual_seed(0))
        assert torch.equal(out.images, x) and out.masks.max() == 0

    def test_bad_shape(self) -> None:
        with pytest.raises(ShapeError, match="Bx3xHxW"):
            occlude(torch.zeros(3, 64, 64), OcclusionConfig(), torch.Generator())


class TestPatches:
    @pytest.mark.parametrize("draw", [shape_patch, hand_patch, glasses_patch])
    def test_rgba_in_range(self, draw) -> None:
        patch = draw(32, torch.Generator().manual_seed(0))
        assert patch.shape == (4, 32, 32)
        assert patch[:3].min() >= -1 and patch[:3].max() <= 1
        assert 0 < patch[3].mean() < 1

    def test_cutout_copies_donor_pixels(self) -> None:
        donor = _images(batch=1, size=40)[0]
        patch = cutout_patch(donor, 40, torch.Generator().manual_seed(0))
        assert torch.equal(patch[:3], donor)
        with pytest.raises(ShapeError):
            cutout_patch(donor, 41, torch.Generator())

    def test_paste_unrotated_full_size_patch_is_compositing(self) -> None:
        x = _images(batch=1, size=16)
        patch = torch.cat([torch.full((1, 3, 16, 16), -1.0), torch.full((1, 1, 16, 16), 0.5)], dim=1)
        out = paste_patches(x, patch, angle=torch.zeros(1), scale=torch.ones(1), centre=torch.zeros(1, 2))
        torch.testing.assert_close(out.images, 0.5 * x - 0.5)


class TestOcclusionConfig:
    @pytest.mark.parametrize("kwargs", [{"kinds": ("feather",)}, {"kinds": ()}, {"probability": 1.5},
                                        {"scale": (0.0, 1.0)}, {"scale": (1.0, 0.5)}, {"max_angle": 200.0},
                                        {"patch_fraction": 0.0}])
    def test_rejects(self, kwargs) -> None:
        with pytest.raises(ConfigError):
            OcclusionConfig(**kwargs)
