"""The swap itself: AEI-Net on a batch of aligned crops, then HEAR-Net.

HEAR-Net refines AEI-Net's swap Y*_st with the heuristic error ΔY_t = X_t − AEI(X_t, X_t):
the extra AEI-Net pass reconstructs each target with its own identity, and what it cannot
reproduce (glasses, hands, a microphone) is what HEAR-Net puts back. A batch holds crops from
several frames; each crop has its own z_id (faces of one frame may take different sources).

Convention: crops ``(B, 3, S, S)`` RGB in [-1, 1] (S = 256), z_id ``(B, c_id)``.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidswap.errors import ConfigError

if TYPE_CHECKING:
    from vidswap.models.aei import AEINet
    from vidswap.models.checkpoint import ModelBundle
    from vidswap.models.hear import HEARNet
    from vidswap.models.identity import IdentityEncoder

__all__ = ["resolve_device", "autocast_dtype", "auto_batch_size", "swap_crops", "Swapper"]


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N`` as a device.

    Raises:
        ConfigError: an unknown name, or CUDA asked for where torch sees none (or not that index).
    """
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", name):
        raise ConfigError(f"--device: expected auto, cpu, cuda or cuda:N, found {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ConfigError(f"--device {name}: torch sees {count} CUDA device(s); use --device cpu or auto")
    return device


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) on ``device``.

    ``auto`` is bf16 on CUDA devices that support it, else fp16 on CUDA, and fp32 (None, no
    autocast) on the CPU.
    """
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def auto_batch_size(device: torch.device, *, image_size: int = 256) -> int:
    """Crops per swap batch: 4 on the CPU; on CUDA about 1 per 1.5 GiB free (paper model at
    256², activations of AEI-Net + HEAR-Net), between 1 and 64."""
    if device.type != "cuda":
        return 4
    free, _ = torch.cuda.mem_get_info(device)
    scale = (256 / image_size) ** 2
    return max(1, min(64, int(free / 1.5e9 * scale)))


def swap_crops(x_t: Tensor, z_id: Tensor, *, aei: AEINet, identity: IdentityEncoder | None = None,
               hear: HEARNet | None = None, id_normalized: bool = True) -> Tensor:
    """Swap the faces of ``x_t`` to the identities ``z_id``.

    Args:
        x_t: ``(B, 3, S, S)`` target crops in [-1, 1].
        z_id: ``(B, c_id)`` source identities, in the form the model takes.
        aei: AEI-Net.
        identity: the identity encoder (for the self-reconstruction pass); needed with ``hear``.
        hear: HEAR-Net, or None for AEI-Net only.
        id_normalized: the model takes L2-normalised z_id (for the target's own identity).

    Returns:
        ``(B, 3, S, S)`` swapped crops in [-1, 1].
    """
    from vidswap.models.identity import resize_for_identity

    y_st, _ = aei(x_t, z_id)
    if hear is None:
        return y_st
    if identity is None:
        raise ConfigError("HEAR-Net refinement needs the identity encoder for the AEI(X_t, X_t) pass")
    z_t = identity.embed(resize_for_identity(x_t)).to(z_id.dtype)
    if id_normalized:
        z_t = F.normalize(z_t, dim=-1)
    y_tt, _ = aei(x_t, z_t)
    return hear(y_st, x_t - y_tt)


class Swapper(nn.Module):
    """The networks of a model on one device, swapping batches of crops.

    Args:
        bundle: the loaded model (its networks are moved to ``device``).
        refine: run HEAR-Net when the model has one.
        device: where to run.
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16`` (autocast on CUDA only).
    """

    def __init__(self, bundle: ModelBundle, *, refine: bool = True, device: torch.device | str = "cpu",
                 precision: str = "auto") -> None:
        super().__init__()
        self.device = torch.device(device)
        self.config = bundle.config
        self.aei = bundle.aei.to(self.device).eval()
        self.hear = bundle.hear.to(self.device).eval() if refine and bundle.hear is not None else None
        self.identity = bundle.identity_encoder().to(self.device)
        self.dtype = autocast_dtype(self.device, precision)

    @property
    def refines(self) -> bool:
        """Whether HEAR-Net runs."""
        return self.hear is not None

    @torch.inference_mode()
    def forward(self, x_t: Tensor, z_id: Tensor, *, refine: bool = True) -> Tensor:
        """``(B, 3, S, S)`` crops in [-1, 1] and ``(B, c_id)`` z_id -> float32 swapped crops in [-1, 1].

        ``refine=False`` skips HEAR-Net for this batch (a frame-range override).
        """
        x_t, z_id = x_t.to(self.device, torch.float32), z_id.to(self.device, torch.float32)
        autocast = (torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None
                    else nullcontext())
        with autocast:
            y = swap_crops(x_t, z_id, aei=self.aei, identity=self.identity, hear=self.hear if refine else None,
                           id_normalized=self.config.id_normalized)
        return y.float()
