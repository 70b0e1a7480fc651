"""The multi-scale PatchGAN discriminator (pix2pixHD style) that AEI-Net trains against.

Each scale is a PatchGAN: a 4x4 stride-2 conv with LeakyReLU(0.2), ``layers − 1`` more
stride-2 convs with InstanceNorm, a stride-1 conv, and a 4x4 conv to one logit per patch;
channels double from ``disc_channels`` up to 8x that. Scale s sees the image average-pooled s
times. At paper size (64 channels, 5 layers, 3 scales, as ghost) it has 33,463,107 parameters.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from vidswap.models.config import FaceShifterConfig

__all__ = ["patch_discriminator", "downsample", "MultiScaleDiscriminator"]


def patch_discriminator(*, channels: int, layers: int) -> nn.Sequential:
    """One PatchGAN scale: Bx3xHxW → Bx1xH'xW' logits (no sigmoid; for the hinge loss)."""
    cap = 8 * channels
    modules: list[nn.Module] = [nn.Conv2d(3, channels, kernel_size=4, stride=2, padding=2), nn.LeakyReLU(0.2)]
    c = channels
    for stride in [2] * (layers - 1) + [1]:
        c_prev, c = c, min(2 * c, cap)
        modules += [nn.Conv2d(c_prev, c, kernel_size=4, stride=stride, padding=2), nn.InstanceNorm2d(c),
                    nn.LeakyReLU(0.2)]
    modules.append(nn.Conv2d(c, 1, kernel_size=4, stride=1, padding=2))
    return nn.Sequential(*modules)


def downsample(x: Tensor) -> Tensor:
    """3x3 stride-2 average pooling that ignores the padding (pix2pixHD's image pyramid)."""
    return F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)


class MultiScaleDiscriminator(nn.Module):
    """``disc_scales`` PatchGANs on an image pyramid; ``scales[0]`` sees the full size.

    Args:
        cfg: the model configuration (``disc_channels``, ``disc_layers``, ``disc_scales``).
    """

    def __init__(self, cfg: FaceShifterConfig) -> None:
        super().__init__()
        self.scales = nn.ModuleList(patch_discriminator(channels=cfg.disc_channels, layers=cfg.disc_layers)
                                    for _ in range(cfg.disc_scales))

    def forward(self, x: Tensor) -> list[Tensor]:
        """Patch logits per scale for RGB images Bx3xHxW in [-1, 1], full size first."""
        logits = []
        for k, scale in enumerate(self.scales):
            if k:
                x = downsample(x)
            logits.append(scale(x))
        return logits
