"""Multi-scale PatchGAN discriminator: scales, patch shapes, parameter count."""

from __future__ import annotations

import torch

from vidswap.models import FaceShifterConfig, MultiScaleDiscriminator
from vidswap.models.discriminator import downsample


class TestMultiScaleDiscriminator:
    def test_one_logit_map_per_scale(self) -> None:
        cfg = FaceShifterConfig.preset("tiny")
        logits = MultiScaleDiscriminator(cfg)(torch.rand(2, 3, 256, 256) * 2 - 1)
        assert len(logits) == cfg.disc_scales
        sides = [t.shape[-1] for t in logits]
        assert all(t.shape[:2] == (2, 1) for t in logits) and sides == sorted(sides, reverse=True)

    def test_paper_parameter_count(self) -> None:
        with torch.device("meta"):
            net = MultiScaleDiscriminator(FaceShifterConfig.preset("paper"))
        assert sum(p.numel() for p in net.parameters()) == 3 * 11_154_369  # ≈ 33.5 M, as ghost

    def test_downsample_ignores_padding(self) -> None:
        out = downsample(torch.ones(1, 1, 8, 8))
        assert out.shape == (1, 1, 4, 4) and torch.equal(out, torch.ones(1, 1, 4, 4))
