"""Compositing with dense masks: per-track steadying, the frame outside the mask, the real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.faces.conftest import read_rgb
from tests.faces.test_mask_blend import synthetic_mesh
from tests.landmark_model import face_landmark_model  # noqa: F401 (a fixture)
from vidswap.errors import ConfigError
from vidswap.faces.align import AlignConfig, crop_from_frame, invert_affine, transform_points, warp_to_crop
from vidswap.faces.mask import MaskConfig
from vidswap.pipeline.composite import DenseMasks, composite_region, matte_codes


def composite_frame(frame: torch.Tensor, *args, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """:func:`composite_region` over a whole ``(3, H, W)`` uint8 frame: ``(H, W, 3)`` uint8 RGB and
    the ``(H, W)`` uint8 matte."""
    rgb, soft = composite_region(frame.float() / 255, *args, **kwargs)
    return (rgb * 255).round().to(torch.uint8).permute(1, 2, 0).numpy(), matte_codes(soft)


class _Stub:
    """A landmark model that finds ``points`` (frame pixels) plus a shift that changes per call."""

    def __init__(self, points: torch.Tensor) -> None:
        self.points, self.calls = points, 0

    def from_frame(self, frame: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.points + 4.0 * self.calls


def _face(size: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A frame, one face's 5 landmarks in it and its crop_from_frame."""
    frame = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    from vidswap.faces.templates import ARCFACE_TEMPLATE

    landmarks = torch.tensor([ARCFACE_TEMPLATE]) * 1.6 + torch.tensor([[110.0, 60.0]])
    return frame, landmarks, crop_from_frame(landmarks, AlignConfig(crop_size=size))


class TestSteadying:
    def test_tracks_are_averaged_over_consecutive_frames(self) -> None:
        frame, landmarks, matrix = _face()
        stub = _Stub(torch.zeros(1, 468, 2))
        dense = DenseMasks(stub)
        own = [transform_points(matrix, torch.full((1, 468, 2), 4.0 * k)) for k in (1, 2, 3, 4, 5)]

        def points(index: int, smoothing: float = 0.5) -> torch.Tensor:
            return dense.crop_points(frame, matrix, landmarks, smoothing=smoothing, tracks=[7], index=index)

        assert torch.allclose(points(10), own[0])
        assert torch.allclose(points(11), 0.5 * own[0] + 0.5 * own[1])
        assert torch.allclose(points(13), own[2])  # frame 12 missing: a fresh start
        assert torch.allclose(points(14, smoothing=0.0), own[3])
        assert torch.allclose(dense.crop_points(frame, matrix, landmarks, smoothing=0.5), own[4])  # no tracks

    def test_composite_keeps_the_frame_outside_the_dense_mask(self) -> None:
        frame, landmarks, matrix = _face()
        mesh = transform_points(invert_affine(matrix.double()).float(), synthetic_mesh())
        dense = DenseMasks(_Stub(mesh - 4.0))
        swapped = torch.ones(1, 3, 256, 256)
        originals = warp_to_crop(frame.float()[None] / 127.5 - 1, matrix, 256)
        rgb, matte = composite_frame(frame, swapped, originals, matrix, landmarks, mask=MaskConfig(shape="dense"),
                                     dense=dense, tracks=[1], index=0)
        source = frame.permute(1, 2, 0).numpy()
        untouched = matte == 0
        assert untouched.any() and (matte == 255).any()
        assert np.array_equal(rgb[untouched], source[untouched])
        _, hull = composite_frame(frame, swapped, originals, matrix, landmarks, mask=MaskConfig())
        assert not np.array_equal(hull > 0, matte > 0)


class TestRealModel:
    def test_dense_matte_covers_the_jaw_the_hull_misses(self, face_landmark_model: Path,  # noqa: F811
                                                        shared: Path) -> None:
        from vidswap.faces.detect import DetectorConfig, create_detector

        image = read_rgb(shared / "media" / "photos" / "obama.jpg")
        found = create_detector(DetectorConfig()).detect([image])[0][:1]
        landmarks = torch.as_tensor(np.stack([f.landmarks for f in found]), dtype=torch.float32)
        frame = torch.from_numpy(image).permute(2, 0, 1).contiguous()
        matrix = crop_from_frame(landmarks, AlignConfig(crop_size=256))
        originals = warp_to_crop(frame.float()[None] / 127.5 - 1, matrix, 256)
        swapped = torch.zeros_like(originals)
        # The model from a weights cache, as the render session opens it.
        from vidswap.weights.cache import CacheSettings
        from vidswap.weights.manifest import load_manifest

        masks = DenseMasks.open(cache=CacheSettings(home=face_landmark_model.parents[2]), manifest=load_manifest(),
                                offline=True)
        rgb, dense = composite_frame(frame, swapped, originals, matrix, landmarks, mask=MaskConfig(shape="dense"),
                                     dense=masks)
        with pytest.raises(ConfigError, match="mask.shape dense needs the dense landmark model"):
            composite_frame(frame, swapped, originals, matrix, landmarks, mask=MaskConfig(shape="dense"))
        _, hull = composite_frame(frame, swapped, originals, matrix, landmarks, mask=MaskConfig())
        untouched = dense == 0
        assert np.array_equal(rgb[untouched], image[untouched])
        # Below the mouth (the jaw and chin) the dense oval reaches farther down than the pentagon.
        mouth_y = int(landmarks[0, 3:, 1].mean())
        assert (dense[mouth_y:] > 128).sum() > 1.2 * (hull[mouth_y:] > 128).sum()


def test_a_render_with_dense_masks(face_landmark_model: Path, tmp_path: Path) -> None:  # noqa: F811
    """The render session opens the landmark model from the options' cache (offline) and the
    composite stage steadies the dense masks along the tracks."""
    from tests.io.media import frame_image, make_clip
    from tests.pipeline.run_helpers import StubDetector, decode, make_tiny_model, write_photo
    from vidswap.pipeline import pipeline_from_options
    from vidswap.pipeline.runner import run_pipeline
    from vidswap.pipeline.session import RunOptions
    from vidswap.weights.cache import CacheSettings

    clip = make_clip(tmp_path / "shot.mp4", frames=6, width=96, height=64)
    photo = write_photo(tmp_path / "me.png", frame_image(3, 128, 128))
    options = RunOptions(progress=False, detector=StubDetector(), offline=True,
                         cache=CacheSettings(home=face_landmark_model.parents[2]))
    model = make_tiny_model(tmp_path / "tiny.safetensors")
    outputs = {}
    for shape in ("hull", "dense"):
        out = tmp_path / f"{shape}.mkv"
        spec = pipeline_from_options({"input": str(clip), "sources.me": [str(photo)], "output.path": str(out),
                                      "model.path": str(model),
                                      "encode.codec": "ffv1", "mask.shape": shape})
        summary = run_pipeline(spec, options)
        assert summary.frames == 6 and summary.faces_swapped > 0
        outputs[shape] = decode(out)
    assert any(not np.array_equal(a, b) for a, b in zip(outputs["hull"], outputs["dense"], strict=True))
