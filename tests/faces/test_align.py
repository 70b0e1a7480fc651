"""Alignment: similarity fit, both template modes, warps and the inverse (round trip)."""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import tolerance
from vidswap.errors import ConfigError
from vidswap.faces.align import (
    ARCFACE_TEMPLATE,
    POSE_TEMPLATES,
    AlignConfig,
    Aligner,
    crop_from_frame,
    estimate_similarity,
    invert_affine,
    transform_points,
    warp_to_crop,
)


def similarity(angle: float, scale: float, tx: float, ty: float, dtype=torch.float64) -> torch.Tensor:
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return torch.tensor([[[c, -s, tx], [s, c, ty]]], dtype=dtype)


def blob(height: int, width: int, x: float, y: float, sigma: float = 3.0) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing="ij")
    return torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))[None, None]


def centroid(image: torch.Tensor) -> torch.Tensor:
    h, w = image.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=image.dtype), torch.arange(w, dtype=image.dtype),
                            indexing="ij")
    total = image.sum()
    return torch.stack([(image * xs).sum() / total, (image * ys).sum() / total])


class TestAlignConfig:
    @pytest.mark.parametrize("kwargs", [{"template": "ffhq"}, {"crop_size": 8}])
    def test_exceptions(self, kwargs) -> None:
        with pytest.raises(ConfigError):
            AlignConfig(**kwargs)


class TestEstimateSimilarity:
    def test_known_answer(self, device, dtype) -> None:
        truth = similarity(0.3, 1.7, 12.0, -5.0).to(device, dtype)
        src = torch.tensor([[[0.0, 0.0], [10, 0], [3, 7], [-4, 9], [6, -2]]], device=device, dtype=dtype)
        got = estimate_similarity(src, transform_points(truth, src))
        rtol, atol = tolerance(dtype)
        torch.testing.assert_close(got, truth, rtol=rtol * 10, atol=atol * 100 + 1e-4)

    @pytest.mark.parametrize("batch", [1, 3])
    def test_shapes(self, batch) -> None:
        src = torch.rand(batch, 5, 2)
        assert estimate_similarity(src, torch.rand(5, 2)).shape == (batch, 2, 3)

    def test_gradcheck(self) -> None:
        src = torch.rand(2, 5, 2, dtype=torch.float64, requires_grad=True)
        dst = torch.rand(2, 5, 2, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda s: estimate_similarity(s, dst), (src,))


class TestCropFromFrame:
    def test_arcface_lands_on_scaled_template(self) -> None:
        template = torch.tensor(ARCFACE_TEMPLATE, dtype=torch.float64)
        landmarks = transform_points(similarity(-0.2, 3.1, 400, 300), template[None])
        matrix = crop_from_frame(landmarks, AlignConfig(crop_size=256))
        torch.testing.assert_close(transform_points(matrix, landmarks)[0], template * 256 / 112)

    @pytest.mark.parametrize("pose", range(5))
    def test_poses_pick_matching_template(self, pose) -> None:
        template = torch.tensor(POSE_TEMPLATES[pose], dtype=torch.float64)
        landmarks = transform_points(similarity(0.1, 2.5, 50, 80), template[None])
        matrix = crop_from_frame(landmarks, AlignConfig(template="insightface-poses", crop_size=256))
        # at 224 the landmarks land on 2x the template; resizing to 256 maps x -> (x + 0.5) * 256/224 - 0.5
        expected = (template * 2 + 0.5) * 256 / 224 - 0.5
        torch.testing.assert_close(transform_points(matrix, landmarks)[0], expected)

    def test_inverse(self, device, dtype) -> None:
        landmarks = torch.tensor([ARCFACE_TEMPLATE], device=device, dtype=dtype) * 2.3 + 40
        matrix = crop_from_frame(landmarks, AlignConfig())
        back = transform_points(invert_affine(matrix), transform_points(matrix, landmarks))
        rtol, atol = tolerance(dtype)
        torch.testing.assert_close(back, landmarks, rtol=rtol, atol=max(atol * 1e3, 1e-2))


class TestWarp:
    @pytest.mark.parametrize("template", ["arcface", "insightface-poses"])
    def test_round_trip_within_half_pixel(self, template) -> None:
        """A mark in the frame lands where the transform says in the crop, and back again."""
        height, width = 360, 480
        landmarks = transform_points(similarity(0.25, 1.4, 150, 90),
                                     torch.tensor([ARCFACE_TEMPLATE], dtype=torch.float64)).float()
        point = landmarks[0, 2] + torch.tensor([3.3, -4.6])  # near the nose, off the pixel grid
        frame = blob(height, width, float(point[0]), float(point[1])).float()
        config = AlignConfig(template=template)
        crops, matrix = Aligner(config)(frame, landmarks)
        expected = transform_points(matrix, point[None, None])[0, 0]
        assert (centroid(crops[0, 0]) - expected).norm() < 0.5
        from kornia.geometry.transform import warp_affine

        restored = warp_affine(crops, invert_affine(matrix), (height, width), align_corners=True)
        assert (centroid(restored[0, 0]) - point).norm() < 0.5

    def test_batched_shapes(self, device) -> None:
        frames = torch.rand(3, 3, 64, 80, device=device)
        landmarks = torch.tensor([ARCFACE_TEMPLATE], device=device).expand(3, -1, -1) * 0.5 + 5
        crops, matrix = Aligner(AlignConfig(crop_size=32))(frames, landmarks)
        assert crops.shape == (3, 3, 32, 32) and matrix.shape == (3, 2, 3)
        torch.testing.assert_close(warp_to_crop(frames, matrix, 32), crops)
