"""HEAR-Net: the U-Net that restores what AEI-Net dropped (occlusions), FaceShifter §3.2.

Input is concat(Y*_st, ΔY_t), 6 channels, with ΔY_t = X_t − AEI(X_t, X_t) the heuristic
error. Layout of taotaonice/FaceShifter's HEAR-Net (16,663,043 parameters at paper size):
five 4x4 stride-2 convs (256² → 8²), four transposed convs each concatenated (skip first)
with the down feature of the same size, bilinear x2, a 3x3 conv to RGB, tanh.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vidswap.errors import ShapeError
from vidswap.models.aei import DownBlock, UpBlock, upsample2x
from vidswap.models.config import FaceShifterConfig

__all__ = ["HEARNet"]


class HEARNet(nn.Module):
    """Refine a first swap Y*_st using the heuristic error ΔY_t of its target.

    Args:
        cfg: the model configuration (``cfg.hear_channels`` sizes the U-Net).
    """

    def __init__(self, cfg: FaceShifterConfig) -> None:
        super().__init__()
        self.config = cfg
        c = cfg.hear_channels
        self.down = nn.ModuleList(DownBlock(c_in, c_out, bias=True)
                                  for c_in, c_out in zip((6, *c[:-1]), c, strict=True))
        ups_in = (c[4], 2 * c[3], 2 * c[2], 2 * c[1])
        self.up = nn.ModuleList(UpBlock(c_in, c_out, bias=True, skip_first=True)
                                for c_in, c_out in zip(ups_in, (c[3], c[2], c[1], c[0]), strict=True))
        self.to_rgb = nn.Conv2d(2 * c[0], 3, kernel_size=3, padding=1)

    def forward(self, y_st: Tensor, delta: Tensor) -> Tensor:
        """Y_st from the AEI-Net swap ``y_st`` and the target's heuristic error ``delta``.

        Args:
            y_st: Bx3x256x256 in [-1, 1], AEI-Net's swap Y*_st.
            delta: Bx3x256x256 in [-2, 2], ΔY_t = X_t − AEI(X_t, X_t).

        Returns:
            Bx3x256x256 in [-1, 1].
        """
        size = self.config.image_size
        if y_st.shape != delta.shape or y_st.ndim != 4 or tuple(y_st.shape[1:]) != (3, size, size):
            raise ShapeError(f"HEAR-Net expects y_st and delta both Bx3x{size}x{size}, "
                             f"got {tuple(y_st.shape)} and {tuple(delta.shape)}")
        x = torch.cat((y_st, delta), dim=1)
        feats = []
        for block in self.down:
            x = block(x)
            feats.append(x)
        for block, skip in zip(self.up, reversed(feats[:-1]), strict=True):
            x = block(x, skip)
        return torch.tanh(self.to_rgb(upsample2x(x)))
