"""A face at the frame edge: inference's crops are black (−1) where they leave the frame, as training's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidswap.faces.align import AlignConfig, crop_from_frame, invert_affine, transform_points
from vidswap.io.color import Conversion
from vidswap.io.planes import Picture
from vidswap.io.reader import NativeFrame
from vidswap.models.checkpoint import build_bundle
from vidswap.models.config import FaceShifterConfig
from vidswap.pipeline.analysis import FaceToSwap
from vidswap.pipeline.identity import embed_faces
from vidswap.pipeline.render import swap_stage
from vidswap.pipeline.swap import Swapper
from vidswap.train.data import image_to_tensor
from vidswap.train.prepare import _crops

CFG = FaceShifterConfig.preset("tiny", alignment="insightface-poses")
ALIGN = AlignConfig(template=CFG.alignment, crop_size=CFG.image_size)


def _outside(landmarks: np.ndarray, width: int, height: int, margin: float) -> torch.Tensor:
    """``(S, S)`` bool: crop pixels whose frame position lies more than ``margin`` pixels outside."""
    matrix = crop_from_frame(torch.as_tensor(landmarks, dtype=torch.float64)[None], ALIGN)
    side = ALIGN.crop_size
    ys, xs = torch.meshgrid(torch.arange(side, dtype=torch.float64), torch.arange(side, dtype=torch.float64),
                            indexing="ij")
    at = transform_points(invert_affine(matrix), torch.stack([xs, ys], -1).view(1, -1, 2))[0].view(side, side, 2)
    return ((at[..., 0] < -margin) | (at[..., 1] < -margin)
            | (at[..., 0] > width - 1 + margin) | (at[..., 1] > height - 1 + margin))


@pytest.fixture(scope="module")
def edge_face(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """obama.jpg cut on the left so that about 20% of the face's crop lies outside the frame."""
    from tests.faces.conftest import read_rgb
    from vidswap.faces.detect import DetectorConfig, create_detector

    path = shared / "media" / "photos" / "obama.jpg"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    rgb = read_rgb(path)
    landmarks = max(create_detector(DetectorConfig()).detect([rgb])[0], key=lambda f: f.score).landmarks
    height, width = rgb.shape[:2]
    cuts = range(0, int(landmarks[:, 0].min()))
    fractions = [float(_outside(landmarks - [x, 0], width - x, height, 0.0).float().mean()) for x in cuts]
    cut = cuts[int(np.argmin(np.abs(np.array(fractions) - 0.2)))]
    shifted = (landmarks - [cut, 0]).astype(np.float32)
    assert 0.15 < float(_outside(shifted, width - cut, height, 0.0).float().mean()) < 0.25
    return np.ascontiguousarray(rgb[:, cut:]), shifted


def test_render_and_identity_crops_are_black_outside(edge_face) -> None:
    rgb, landmarks = edge_face
    outside = _outside(landmarks, rgb.shape[1], rgb.shape[0], 1.0)
    torch.manual_seed(0)
    bundle = build_bundle(CFG, hear=False)
    stage = swap_stage(Swapper(bundle), {0: (FaceToSwap(track=0, landmarks=landmarks, source="a"),)},
                       {"a": torch.zeros(CFG.c_id)}, batch_size=4, color=Conversion(matrix=1, range=2))
    (swapped,) = stage(iter([NativeFrame(index=0, pts=0, time=0.0, picture=Picture.from_rgb(rgb))]))
    assert swapped.crops is not None
    render_crop = swapped.crops.originals[0]

    seen: list[torch.Tensor] = []

    class Recorder:
        def embed(self, crops: torch.Tensor) -> torch.Tensor:
            seen.append(crops)
            return torch.zeros(len(crops), CFG.c_id)

    embed_faces([rgb], landmarks[None], encoder=Recorder(), config=CFG)  # type: ignore[arg-type]
    for crop in (render_crop, seen[0][0]):
        assert outside.sum() > 0.15 * outside.numel()
        assert torch.equal(crop[:, outside], torch.full_like(crop[:, outside], -1.0))
        assert crop[:, ~outside].mean() > -0.8  # the face itself is there

    # Training's crops (prepare: warped in [0, 255], stored as uint8) pad the same.
    trained = image_to_tensor(_crops(rgb, landmarks[None], ALIGN)[0])
    assert torch.equal(trained[:, outside], render_crop[:, outside])
    assert (trained - render_crop).abs().max() <= 1 / 127.5  # uint8 rounding (and a float64 matrix)
