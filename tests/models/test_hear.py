"""HEAR-Net: shapes, parameter count of the spec, input checks."""

from __future__ import annotations

import pytest
import torch

from vidswap.errors import ShapeError
from vidswap.models import FaceShifterConfig, HEARNet


class TestHEARNet:
    def test_tiny_shape_and_range(self) -> None:
        net = HEARNet(FaceShifterConfig.preset("tiny"))
        y = net(torch.rand(2, 3, 256, 256) * 2 - 1, torch.rand(2, 3, 256, 256) * 4 - 2)
        assert y.shape == (2, 3, 256, 256) and bool((y.abs() < 1).all())

    def test_uses_the_heuristic_error(self) -> None:
        torch.manual_seed(0)
        net = HEARNet(FaceShifterConfig.preset("tiny")).eval()
        y_st = torch.rand(1, 3, 256, 256)
        with torch.no_grad():
            assert (net(y_st, torch.zeros_like(y_st)) - net(y_st, torch.ones_like(y_st))).abs().max() > 1e-4

    def test_paper_parameter_count(self) -> None:
        with torch.device("meta"):
            net = HEARNet(FaceShifterConfig.preset("paper"))
            y = net(torch.empty(1, 3, 256, 256), torch.empty(1, 3, 256, 256))
        assert sum(p.numel() for p in net.parameters()) == 16_663_043 and tuple(y.shape) == (1, 3, 256, 256)

    def test_shape_mismatch(self) -> None:
        with pytest.raises(ShapeError, match="delta"):
            HEARNet(FaceShifterConfig.preset("tiny"))(torch.zeros(1, 3, 256, 256),
                                                      torch.zeros(1, 6, 256, 256))
