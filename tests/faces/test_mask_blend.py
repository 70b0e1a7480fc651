"""Masks and compositing: shapes, feathering, exact frame outside the mask, colour matching."""

from __future__ import annotations

import pytest
import torch

import vidswap.faces.mask as mask_module
from vidswap.errors import ConfigError
from vidswap.faces.align import (
    ARCFACE_TEMPLATE,
    AlignConfig,
    crop_from_frame,
    invert_affine,
    transform_points,
)
from vidswap.faces.blend import Compositor, match_colour, paste_back
from vidswap.faces.mask import (
    FACE_OVAL,
    LEFT_EYE,
    MOUTH_INTERIOR,
    RIGHT_EYE,
    FaceMask,
    MaskConfig,
    border_band,
    dense_region,
    face_mask,
)

CROP_LANDMARKS = torch.tensor([ARCFACE_TEMPLATE]) * 256 / 112


class TestFaceMask:
    @pytest.mark.parametrize("shape", ["hull", "ellipse"])
    def test_range_and_centre(self, shape) -> None:
        mask = FaceMask(256, MaskConfig(shape=shape))(CROP_LANDMARKS.expand(2, -1, -1))
        assert mask.shape == (2, 1, 256, 256)
        assert mask.min() >= 0 and mask.max() <= 1
        nose = CROP_LANDMARKS[0, 2].round().long()
        assert mask[0, 0, nose[1], nose[0]] == pytest.approx(1.0, abs=1e-4)
        assert mask[0, 0, 0, 0] == 0 and mask[0, 0, -1, -1] == 0

    def test_erosion_shrinks_and_blur_feathers(self) -> None:
        hard = face_mask(CROP_LANDMARKS, 128, MaskConfig(erosion=0, blur=0, scale=1.5))
        eroded = face_mask(CROP_LANDMARKS * 0.5, 128, MaskConfig(erosion=0.05, blur=0, scale=1.5))
        hard_small = face_mask(CROP_LANDMARKS * 0.5, 128, MaskConfig(erosion=0, blur=0, scale=1.5))
        inner = int(border_band(128, MaskConfig(blur=0))) + 1  # the border fade is soft even without blur
        assert set(hard[..., inner:-inner, inner:-inner].unique().tolist()) <= {0.0, 1.0}
        assert eroded.sum() < hard_small.sum() and bool((eroded <= hard_small).all())
        soft = face_mask(CROP_LANDMARKS * 0.5, 128, MaskConfig(erosion=0, blur=0.05, scale=1.5))
        assert ((soft > 0.05) & (soft < 0.95)).sum() > 100

    @pytest.mark.parametrize("shape,scale", [("hull", 3.0), ("hull", 4.0), ("ellipse", 2.2), ("ellipse", 3.0)])
    @pytest.mark.parametrize("blur", [0.0, 0.03])
    def test_faded_to_zero_at_the_crop_border(self, shape, scale, blur, monkeypatch) -> None:
        config = MaskConfig(shape=shape, scale=scale, blur=blur)
        mask = face_mask(CROP_LANDMARKS, 256, config)[0, 0]
        border = torch.cat([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
        assert border.abs().max() == 0
        # It reached the border before the fade (else this tests nothing) ...
        band = border_band(256, config)
        assert mask[round(band) + 1:-round(band) - 1].amax() == pytest.approx(1.0, abs=1e-4)
        # ... and the fade changes nothing farther in than its band.
        monkeypatch.setattr(mask_module, "_border_fade", lambda size, band, like: torch.ones(size, size))
        unfaded = face_mask(CROP_LANDMARKS, 256, config)[0, 0]
        assert max(unfaded[0].amax(), unfaded[-1].amax(), unfaded[:, 0].amax(), unfaded[:, -1].amax()) > 0.5
        inner = slice(int(band) + 1, 256 - int(band) - 1)
        assert torch.equal(mask[inner, inner], unfaded[inner, inner])
        assert bool((mask <= unfaded).all())

    def test_exceptions(self) -> None:
        for kwargs in ({"shape": "square"}, {"scale": 0}, {"erosion": 0.7}, {"blur": -0.1}):
            with pytest.raises(ConfigError):
                MaskConfig(**kwargs)


def _ring(count: int, centre: tuple[float, float], radii: tuple[float, float]) -> torch.Tensor:
    angle = torch.arange(count) * 2 * torch.pi / count
    return torch.stack([centre[0] + radii[0] * angle.cos(), centre[1] + radii[1] * angle.sin()], dim=-1)


def synthetic_mesh(oval: float = 90.0) -> torch.Tensor:
    """``(1, 468, 2)`` dense points in a 256 crop: a round face oval, a mouth and two eyes."""
    points = torch.full((468, 2), 128.0)
    for outline, centre, radii in ((FACE_OVAL, (128, 128), (oval, oval * 1.1)), (MOUTH_INTERIOR, (128, 175), (25, 8)),
                                   (LEFT_EYE, (161, 110), (14, 6)), (RIGHT_EYE, (95, 110), (14, 6))):
        points[list(outline)] = _ring(len(outline), centre, radii)
    return points[None]


class TestDenseMask:
    def test_oval_and_kept_regions(self) -> None:
        mesh = synthetic_mesh()
        hard = dense_region(mesh, 256)
        assert hard[0, 0, 128, 128] == 1 and hard[0, 0, 128, 5] == 0 and hard[0, 0, 175, 128] == 1
        area = hard.sum().item()
        assert area == pytest.approx(torch.pi * 90 * 99, rel=0.02)
        mouth = dense_region(mesh, 256, keep_mouth=True)
        assert mouth[0, 0, 175, 128] == 0 and mouth[0, 0, 110, 161] == 1
        eyes = dense_region(mesh, 256, keep_eyes=True)
        assert eyes[0, 0, 110, 161] == 0 and eyes[0, 0, 110, 95] == 0 and eyes[0, 0, 175, 128] == 1
        both = dense_region(mesh, 256, keep_mouth=True, keep_eyes=True)
        assert bool((both <= mouth).all() and (both <= eyes).all())

    def test_soft_dense_mask_keeps_the_mouth_and_fades_at_the_border(self) -> None:
        soft = face_mask(synthetic_mesh(), 256, MaskConfig(shape="dense", keep_mouth=True))
        whole = face_mask(synthetic_mesh(), 256, MaskConfig(shape="dense"))
        assert soft[0, 0, 128, 128] == pytest.approx(1.0, abs=1e-4)
        assert soft[0, 0, 175, 128] < 0.2 and whole[0, 0, 175, 128] == pytest.approx(1.0, abs=1e-4)
        large = face_mask(synthetic_mesh(oval=150), 256, MaskConfig(shape="dense"))[0, 0]
        assert torch.cat([large[0], large[-1], large[:, 0], large[:, -1]]).abs().max() == 0
        assert 0 < large[128, 10] < large[128, 30] and large[128, 30] > 0.9

    def test_dense_needs_dense_landmarks(self) -> None:
        with pytest.raises(ConfigError, match="468") as caught:
            face_mask(CROP_LANDMARKS, 256, MaskConfig(shape="dense"))
        assert caught.value.setting == "mask.shape"
        for name in ("keep_mouth", "keep_eyes"):
            with pytest.raises(ConfigError) as bad:
                MaskConfig(**{name: True})
            assert bad.value.setting == f"mask.{name}"
        with pytest.raises(ConfigError):
            MaskConfig(shape="dense", smoothing=1.0)


class TestPasteBack:
    def test_outside_dilated_mask_unchanged(self) -> None:
        torch.manual_seed(0)
        frame = torch.rand(3, 200, 300)
        landmarks = torch.tensor([ARCFACE_TEMPLATE]) * 0.9 + torch.tensor([[100.0, 40.0]])
        matrix = crop_from_frame(landmarks, AlignConfig(crop_size=128))
        masks = face_mask(transform_points(matrix, landmarks), 128, MaskConfig())
        crops = torch.rand(1, 3, 128, 128)
        out = paste_back(frame, crops, masks, invert_affine(matrix))
        from kornia.geometry.transform import warp_affine

        # The mask in the frame, dilated by 2 px: outside it the frame is bit-identical.
        warped = warp_affine(masks, invert_affine(matrix), (200, 300), align_corners=True)[0, 0]
        dilated = torch.nn.functional.max_pool2d(warped[None, None], 5, 1, 2)[0, 0] > 0
        assert torch.equal(out[:, ~dilated], frame[:, ~dilated])
        assert (out != frame).any(dim=0)[dilated].float().mean() > 0.5
        inside = warped > 0.999
        pasted = warp_affine(crops, invert_affine(matrix), (200, 300), align_corners=True)[0]
        torch.testing.assert_close(out[:, inside], pasted[:, inside], atol=1e-3, rtol=0)

    def test_face_off_frame_is_ignored(self) -> None:
        frame = torch.rand(3, 50, 50)
        far = torch.tensor([[[1.0, 0.0, 500.0], [0.0, 1.0, 500.0]]])
        out = paste_back(frame, torch.rand(1, 3, 32, 32), torch.ones(1, 1, 32, 32), far)
        assert torch.equal(out, frame)


class TestMatchColour:
    @pytest.mark.parametrize("space", ["rgb", "lab"])
    def test_statistics_follow_original(self, space) -> None:
        torch.manual_seed(1)
        original = (torch.rand(2, 3, 32, 32) * 0.3 + torch.tensor([0.6, 0.4, 0.3])[:, None, None]).clamp(0, 1)
        swapped = (torch.rand(2, 3, 32, 32) * 0.5 + 0.1).clamp(0, 1)
        mask = torch.ones(2, 1, 32, 32)
        out = match_colour(swapped, original, mask, space)
        assert out.shape == swapped.shape
        torch.testing.assert_close(out.mean(dim=(2, 3)), original.mean(dim=(2, 3)), atol=0.03, rtol=0)

    def test_compositor_module(self) -> None:
        frame = torch.rand(3, 64, 64)
        matrix = torch.tensor([[[1.0, 0.0, -10.0], [0.0, 1.0, -10.0]]])  # crop_from_frame
        crops = torch.rand(1, 3, 32, 32)
        masks = torch.zeros(1, 1, 32, 32)
        out = Compositor("lab")(frame, crops, crops, masks, invert_affine(matrix))
        assert torch.equal(out, frame)
        with pytest.raises(ConfigError, match="mask.colour_match"):
            Compositor("hsv")  # type: ignore[arg-type]
