"""The FaceShifter family: AEI-Net, optionally HEAR-Net, and the ArcFace identity encoder.

HEAR-Net refines AEI-Net's swap Y*_st with the heuristic error ΔY_t = X_t − AEI(X_t, X_t):
the extra AEI-Net pass reconstructs each target with its own identity, and what it cannot
reproduce (glasses, hands, a microphone) is what HEAR-Net puts back. A batch holds crops from
several frames; each crop has its own z_id (faces of one frame may take different sources).

Convention: crops ``(B, 3, S, S)`` RGB in [-1, 1] (S = 256), z_id ``(B, c_id)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidswap.models.aei import AEINet
from vidswap.models.config import Alignment, FaceShifterConfig
from vidswap.models.discriminator import MultiScaleDiscriminator
from vidswap.models.family import Swap
from vidswap.models.hear import HEARNet
from vidswap.models.identity import IResNet, TorchIdentityEncoder, resize_for_identity

if TYPE_CHECKING:
    from pathlib import Path

    from vidswap.models.checkpoint import ModelHeader

__all__ = ["PARTS", "ModelBundle"]

#: The networks of a FaceShifter model file, by tensor prefix, in file order.
PARTS = ("aei", "identity", "hear", "discriminator")


@dataclass
class ModelBundle:
    """The networks of one FaceShifter model and what describes them; the family's
    :class:`~vidswap.models.family.SwapModel`.

    Under the caller's autocast (the run's precision) AEI-Net and HEAR-Net run in its dtype;
    the ArcFace encoder stays in float32 (:meth:`embed`).

    Attributes:
        config: sizes and conventions of every network.
        aei: AEI-Net.
        identity: the ArcFace backbone that computes z_id (frozen).
        hear: HEAR-Net, or None when the model has none (ghost ships AEI-Net only).
        discriminator: present in training checkpoints only.
        metadata: provenance as strings (e.g. ``source``, ``licence``, ``sha256``).
    """

    family: ClassVar[str] = "faceshifter"

    config: FaceShifterConfig
    aei: AEINet
    identity: IResNet
    hear: HEARNet | None = None
    discriminator: MultiScaleDiscriminator | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def parts(self) -> dict[str, nn.Module]:
        """The present networks by file prefix, in file order."""
        return {name: module for name in PARTS if (module := getattr(self, name)) is not None}

    def identity_encoder(self) -> TorchIdentityEncoder:
        """The identity backbone as an :class:`~vidswap.models.identity.IdentityEncoder` (112² crops)."""
        return TorchIdentityEncoder(self.identity)

    @property
    def crop_size(self) -> int:
        """Side of the aligned crop (256)."""
        return self.config.image_size

    @property
    def alignment(self) -> Alignment:
        """The config's alignment template."""
        return self.config.alignment

    @property
    def can_refine(self) -> bool:
        """Whether HEAR-Net is present."""
        return self.hear is not None

    def identity_crop(self, crops: Tensor) -> Tensor:
        """ArcFace's 112² crop of aligned crops: :func:`~vidswap.models.identity.resize_for_identity`."""
        return resize_for_identity(crops)

    def embed(self, crops: Tensor) -> Tensor:
        """Raw ArcFace embeddings ``(B, c_id)`` float32 of aligned ``(B, 3, S, S)`` crops.

        Always in float32, also under the caller's autocast (ghost, too, runs ArcFace in fp32
        and AEI-Net in fp16): z_id is compared and averaged across photos, and a raw z_id feeds
        every AAD layer of the generator.
        """
        with torch.autocast(crops.device.type, enabled=False):
            return self.identity_encoder().embed(self.identity_crop(crops.float())).float()

    def swap(self, x_t: Tensor, z_id: Tensor, *, refine: bool) -> Swap:
        """Swap the faces of ``x_t`` to the identities ``z_id``; ``refine`` runs HEAR-Net when present.

        Args:
            x_t: ``(B, 3, S, S)`` target crops in [-1, 1].
            z_id: ``(B, c_id)`` source identities, in the form the model takes.
            refine: add HEAR-Net's pass (needs the self-reconstruction AEI(X_t, z_t)).

        Returns:
            The ``(B, 3, S, S)`` swapped crops in [-1, 1]; with HEAR-Net, the occlusion estimate
            too: per pixel the largest channel of ``|ΔY_t| / 2``, the target's own reconstruction
            error in [0, 1] units (what HEAR-Net was given as the part AEI-Net cannot reproduce).
        """
        y_st, _ = self.aei(x_t, z_id)
        if not refine or self.hear is None:
            return Swap(y_st)
        z_t = self.embed(x_t).to(z_id.dtype)
        if self.config.id_normalized:
            z_t = F.normalize(z_t, dim=-1)
        y_tt, _ = self.aei(x_t, z_t)
        delta = x_t - y_tt
        return Swap(self.hear(y_st, delta), (delta.abs().amax(dim=1, keepdim=True) / 2).clamp(0, 1))

    def to(self, device: torch.device) -> ModelBundle:
        """Every network moved to ``device`` (in place), frozen and in eval mode; returns ``self``."""
        for module in self.parts().values():
            module.to(device).eval().requires_grad_(False)
        return self

    @classmethod
    def load(cls, path: Path, header: ModelHeader, *, device: torch.device) -> ModelBundle:
        """Read a FaceShifter model file (see :func:`~vidswap.models.checkpoint.load_checkpoint`)."""
        from vidswap.models.checkpoint import load_checkpoint

        return load_checkpoint(path, device=device)
