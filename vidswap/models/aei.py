"""AEI-Net: multi-level attribute encoder, AAD layers and ResBlks, AAD generator (FaceShifter §3.1).

Layout and arithmetic follow the ghost re-implementation (U-Net encoder, ``aad_units`` AAD units
per block, bilinear upsampling with ``align_corners=True``), so its checkpoints convert by
renaming keys only (:mod:`vidswap.weights.ghost`). Reads top to bottom: the AAD mix, leaf
blocks, the encoder, the generator, the network.

Convention: images are RGB, Bx3x256x256, values in [-1, 1]; z_id is Bx``c_id``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidswap.errors import ShapeError
from vidswap.models.config import FaceShifterConfig

__all__ = ["aad_mix", "upsample2x", "AADLayer", "AADUnit", "AADResBlk", "DownBlock", "UpBlock",
           "AttributeEncoder", "AADGenerator", "AEINet"]


def aad_mix(h_bar: Tensor, att: tuple[Tensor, Tensor], ident: tuple[Tensor, Tensor], mask: Tensor) -> Tensor:
    """Adaptive attentional denormalisation of a normalised activation.

    Args:
        h_bar: instance-normalised activation, BxCxHxW.
        att: (γ_att, β_att), each BxCxHxW, from the attribute map z_att^k.
        ident: (γ_id, β_id), each BxC, from the identity embedding z_id.
        mask: attention M in (0, 1), Bx1xHxW: 1 takes identity, 0 takes attributes.

    Returns:
        (1 − M) ⊙ (γ_att ⊙ h̄ + β_att) + M ⊙ (γ_id ⊙ h̄ + β_id), BxCxHxW.
    """
    a = att[0] * h_bar + att[1]
    i = ident[0][:, :, None, None] * h_bar + ident[1][:, :, None, None]
    return (1 - mask) * a + mask * i


def upsample2x(x: Tensor) -> Tensor:
    """Bilinear x2 upsampling with aligned corners (as the reference implementations)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class AADLayer(nn.Module):
    """One AAD layer: 1x1 convs of z_att and linear maps of z_id modulate InstanceNorm(h).

    Args:
        channels: channels C of the activation h.
        att_channels: channels of the attribute map z_att^k.
        c_id: size of z_id.
    """

    def __init__(self, *, channels: int, att_channels: int, c_id: int) -> None:
        super().__init__()
        self.att_gamma = nn.Conv2d(att_channels, channels, kernel_size=1)
        self.att_beta = nn.Conv2d(att_channels, channels, kernel_size=1)
        self.id_gamma = nn.Linear(c_id, channels)
        self.id_beta = nn.Linear(c_id, channels)
        self.mask = nn.Conv2d(channels, 1, kernel_size=1)

    def attention(self, h: Tensor) -> Tensor:
        """The mask M = sigmoid(1x1 conv of InstanceNorm(h)), Bx1xHxW in (0, 1)."""
        return torch.sigmoid(self.mask(F.instance_norm(h)))

    def forward(self, h: Tensor, z_att: Tensor, z_id: Tensor) -> Tensor:
        """Mix attributes and identity into h (BxCxHxW, z_att BxC'xHxW, z_id Bxc_id)."""
        h_bar = F.instance_norm(h)
        mask = torch.sigmoid(self.mask(h_bar))
        return aad_mix(h_bar, (self.att_gamma(z_att), self.att_beta(z_att)),
                       (self.id_gamma(z_id), self.id_beta(z_id)), mask)


class AADUnit(nn.Module):
    """AAD → ReLU → 3x3 conv (no bias), the repeated unit of an AAD ResBlk."""

    def __init__(self, *, channels: int, out_channels: int, att_channels: int, c_id: int) -> None:
        super().__init__()
        self.aad = AADLayer(channels=channels, att_channels=att_channels, c_id=c_id)
        self.conv = nn.Conv2d(channels, out_channels, kernel_size=3, padding=1, bias=False)

    def forward(self, h: Tensor, z_att: Tensor, z_id: Tensor) -> Tensor:
        return self.conv(F.relu(self.aad(h, z_att, z_id)))


class AADResBlk(nn.Module):
    """``units`` AAD units plus a shortcut, itself an AAD unit when the channels change.

    Args:
        channels: input channels; every unit but the last keeps them.
        out_channels: output channels (of the last unit and of the shortcut).
        att_channels: channels of this block's attribute map.
        c_id: size of z_id.
        units: number of AAD units on the main path.
    """

    def __init__(self, *, channels: int, out_channels: int, att_channels: int, c_id: int, units: int) -> None:
        super().__init__()
        self.units = nn.ModuleList(
            AADUnit(channels=channels, out_channels=channels if j < units - 1 else out_channels,
                    att_channels=att_channels, c_id=c_id)
            for j in range(units))
        self.shortcut = (AADUnit(channels=channels, out_channels=out_channels, att_channels=att_channels,
                                 c_id=c_id) if channels != out_channels else None)

    def forward(self, h: Tensor, z_att: Tensor, z_id: Tensor) -> Tensor:
        x = h
        for unit in self.units:
            x = unit(x, z_att, z_id)
        return x + (h if self.shortcut is None else self.shortcut(h, z_att, z_id))


class DownBlock(nn.Module):
    """4x4 stride-2 conv → BatchNorm → LeakyReLU(0.1): halves the size."""

    def __init__(self, in_channels: int, out_channels: int, *, bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=bias)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.norm(self.conv(x)), 0.1)


class UpBlock(nn.Module):
    """4x4 stride-2 transposed conv → BatchNorm → LeakyReLU(0.1), then concatenated with a skip.

    Args:
        skip_first: concatenate as (skip, up) instead of (up, skip); the order only matters
            for matching the channel layout of foreign checkpoints.
    """

    def __init__(self, in_channels: int, out_channels: int, *, bias: bool = False,
                 skip_first: bool = False) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1,
                                       bias=bias)
        self.norm = nn.BatchNorm2d(out_channels)
        self.skip_first = skip_first

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        up = F.leaky_relu(self.norm(self.conv(x)), 0.1)
        return torch.cat((skip, up) if self.skip_first else (up, skip), dim=1)


class AttributeEncoder(nn.Module):
    """The multi-level attribute encoder, a U-Net: 256² → 2² and back up to 128², then 256².

    Returns the eight attribute maps z_att^1..8 with the shapes of
    :attr:`FaceShifterConfig.attribute_shapes` (paper: 1024x2², 2048x4², 1024x8², 512x16²,
    256x32², 128x64², 64x128², 64x256²).
    """

    def __init__(self, cfg: FaceShifterConfig) -> None:
        super().__init__()
        e = cfg.encoder_channels
        self.down = nn.ModuleList(DownBlock(c_in, c_out) for c_in, c_out in zip((3, *e[:-1]), e, strict=True))
        up_in = cfg.attribute_channels[:6]
        self.up = nn.ModuleList(UpBlock(c_in, c_out)
                                for c_in, c_out in zip(up_in, reversed(e[:-1]), strict=True))

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        for block in self.down:
            x = block(x)
            feats.append(x)
        z_att = [feats[-1]]
        for block, skip in zip(self.up, reversed(feats[:-1]), strict=True):
            z_att.append(block(z_att[-1], skip))
        z_att.append(upsample2x(z_att[-1]))
        return z_att


class AADGenerator(nn.Module):
    """z_id → 2x2 transposed conv → eight AAD ResBlks (x2 bilinear between them) → tanh."""

    def __init__(self, cfg: FaceShifterConfig) -> None:
        super().__init__()
        g = cfg.generator_channels
        self.stem = nn.ConvTranspose2d(cfg.c_id, g[0], kernel_size=2)
        self.blocks = nn.ModuleList(
            AADResBlk(channels=c_in, out_channels=c_out, att_channels=c_att, c_id=cfg.c_id,
                      units=cfg.aad_units)
            for c_in, c_out, c_att in zip(g, (*g[1:], 3), cfg.attribute_channels, strict=True))

    def forward(self, z_att: list[Tensor], z_id: Tensor) -> Tensor:
        """Render Bx3x256x256 in [-1, 1] from the eight attribute maps and z_id (Bxc_id)."""
        h = self.stem(z_id[:, :, None, None])
        for k, (block, att) in enumerate(zip(self.blocks, z_att, strict=True)):
            h = block(h, att, z_id)
            if k < len(self.blocks) - 1:
                h = upsample2x(h)
        return torch.tanh(h)


class AEINet(nn.Module):
    """AEI-Net: Y = generator(attributes(X_t), z_id), the first-stage face swap.

    Args:
        cfg: the model configuration (sizes; ``cfg.c_id`` is the size of z_id).

    Example:
        >>> import torch
        >>> from vidswap.models import AEINet, FaceShifterConfig
        >>> net = AEINet(FaceShifterConfig.preset("tiny")).eval()
        >>> y, z_att = net(torch.zeros(1, 3, 256, 256), torch.zeros(1, 512))
        >>> tuple(y.shape), len(z_att)
        ((1, 3, 256, 256), 8)
    """

    def __init__(self, cfg: FaceShifterConfig) -> None:
        super().__init__()
        self.config = cfg
        self.encoder = AttributeEncoder(cfg)
        self.generator = AADGenerator(cfg)

    def attributes(self, x: Tensor) -> list[Tensor]:
        """The eight attribute maps z_att^1..8 of Bx3x256x256 images in [-1, 1] (for L_att)."""
        size = self.config.image_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, size, size):
            raise ShapeError(f"AEI-Net expects target crops Bx3x{size}x{size}, got {tuple(x.shape)}")
        return self.encoder(x)

    def forward(self, x_t: Tensor, z_id: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Swap: target crops x_t (Bx3x256x256, [-1, 1]) and identities z_id (Bxc_id).

        Returns:
            y: Bx3x256x256 in [-1, 1], the target with the identity of z_id.
            z_att: the eight attribute maps of x_t.
        """
        if z_id.ndim != 2 or z_id.shape[1] != self.config.c_id or z_id.shape[0] != x_t.shape[0]:
            raise ShapeError(f"AEI-Net expects z_id of shape {x_t.shape[0]}x{self.config.c_id} for "
                             f"{x_t.shape[0]} target crops, got {tuple(z_id.shape)}")
        z_att = self.attributes(x_t)
        return self.generator(z_att, z_id), z_att
