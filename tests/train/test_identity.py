"""Training's identity embedding sees the very crop inference does."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vidswap.models import FaceShifterConfig, build_bundle
from vidswap.train.identity import identity_embedding


@pytest.mark.parametrize("alignment", ["arcface", "insightface-poses"])
@pytest.mark.parametrize("normalized", [True, False])
def test_training_and_inference_embed_alike(normalized: bool, alignment: str) -> None:
    torch.manual_seed(0)
    bundle = build_bundle(FaceShifterConfig.preset("tiny", id_normalized=normalized, alignment=alignment),
                          hear=False)
    images = torch.rand(2, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        trained = identity_embedding(bundle.identity_encoder(), images, bundle.config)
        inferred = bundle.embed(images)
    expected = F.normalize(inferred, dim=1) if normalized else inferred
    torch.testing.assert_close(trained, expected, rtol=0, atol=0)
