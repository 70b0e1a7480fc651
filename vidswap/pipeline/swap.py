"""The swap on the run's device: a swap model (any family) on batches of aligned crops.

A batch holds crops from several frames; each crop has its own z_id (faces of one frame may
take different sources). What the swap computes is the model's
(:meth:`~vidswap.models.family.SwapModel.swap`); this module picks the device, the precision
and the batch size.

Convention: crops ``(B, 3, S, S)`` RGB in [-1, 1] (S = 256), z_id ``(B, c_id)``.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from vidswap.errors import ConfigError
from vidswap.models.family import Swap

if TYPE_CHECKING:
    from vidswap.models.family import SwapModel

__all__ = ["resolve_device", "autocast_dtype", "auto_batch_size", "Swapper"]


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N`` as a device.

    Raises:
        ConfigError: an unknown name, or CUDA asked for where torch sees none (or not that index).
    """
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", name):
        raise ConfigError(f"model.device: expected auto, cpu, cuda or cuda:N, found {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ConfigError(f"model.device {name}: torch sees {count} CUDA device(s); use cpu or auto")
    return device


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) on ``device``.

    ``auto`` is fp16 on CUDA (as ghost runs) and fp32 (None, no autocast) on the CPU. fp16, not
    bf16: bf16's 8 mantissa bits put the swap about 8x further from fp32 (ghost-size AEI-Net:
    mean 0.10 against 0.83 8-bit levels, max 1.1 against 8.2; ``benchmarks/precision.py``), so
    bf16 is opt-in. The model keeps what must stay fp32 there
    (:meth:`~vidswap.models.family.SwapModel.swap`).
    """
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def auto_batch_size(device: torch.device, *, image_size: int = 256) -> int:
    """Crops per swap batch: 4 on the CPU; on CUDA about 1 per 1.5 GiB free (paper model at
    256², activations of AEI-Net + HEAR-Net), between 1 and 64."""
    if device.type != "cuda":
        return 4
    free, _ = torch.cuda.mem_get_info(device)
    scale = (256 / image_size) ** 2
    return max(1, min(64, int(free / 1.5e9 * scale)))


class Swapper(nn.Module):
    """A swap model on one device, swapping batches of crops under the run's precision.

    Args:
        bundle: the loaded model, any family (moved to ``device``, frozen).
        refine: run the model's refinement (FaceShifter: HEAR-Net) when it has one.
        device: where to run.
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16`` (see :func:`autocast_dtype`).

    Attributes:
        model: the swap model.
        config: its config (alignment, crop size, z_id form).
        identity: the model again, as what embeds aligned face crops (``identity.embed``).
    """

    def __init__(self, bundle: SwapModel, *, refine: bool = True, device: torch.device | str = "cpu",
                 precision: str = "auto") -> None:
        super().__init__()
        self.device = torch.device(device)
        self.model = bundle.to(self.device)
        self.config = self.model.config
        self.identity = self.model
        self.refine = refine and self.model.can_refine
        self.dtype = autocast_dtype(self.device, precision)

    @property
    def refines(self) -> bool:
        """Whether the refinement runs."""
        return self.refine

    @torch.inference_mode()
    def forward(self, x_t: Tensor, z_id: Tensor, *, refine: bool = True) -> Swap:
        """``(B, 3, S, S)`` crops in [-1, 1] and ``(B, c_id)`` z_id -> float32 swapped crops in [-1, 1]
        (and the refinement's occlusion estimate, float32, when it ran).

        ``refine=False`` skips the refinement for this batch (a frame-range override).
        """
        x_t, z_id = x_t.to(self.device, torch.float32), z_id.to(self.device, torch.float32)
        autocast = (torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None
                    else nullcontext())
        with autocast:
            y = self.model.swap(x_t, z_id, refine=self.refine and refine)
        return Swap(y.images.float(), None if y.occlusion is None else y.occlusion.float())
