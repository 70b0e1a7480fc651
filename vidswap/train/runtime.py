"""Where a training step runs: device, mixed precision and torch DDP (``torchrun``).

Multi-GPU: launch the same command under torchrun, e.g.
``torchrun --nproc_per_node 4 -m vidswap train aei --data DATASET --identity W -o RUN --device cuda``.
torchrun sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`setup_runtime` then joins the
process group (NCCL on CUDA, gloo on the CPU), puts each process on ``cuda:LOCAL_RANK`` and the
loops wrap the trained networks in ``DistributedDataParallel``. Each rank draws its own batches
(``--batch-size`` is per process); only rank 0 writes logs, samples and checkpoints.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from vidswap.errors import ConfigError
from vidswap.train.config import Precision

__all__ = ["Runtime", "resolve_precision", "setup_runtime", "teardown_runtime", "distribute"]


@dataclass(frozen=True)
class Runtime:
    """The resolved device, precision and process group of this process.

    Attributes:
        device: the torch device the step runs on.
        autocast_dtype: dtype of autocast regions, or None for full fp32.
        rank: this process's rank (0 without DDP).
        world_size: number of processes (1 without DDP).
    """

    device: torch.device
    autocast_dtype: torch.dtype | None
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes logs, samples and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def autocast(self) -> AbstractContextManager[object]:
        """The autocast context of a forward pass (a no-op in fp32)."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A grad scaler, enabled only for fp16 (bf16 and fp32 need none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)


def resolve_precision(precision: Precision, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: fp32, no autocast).

    ``auto`` picks bf16 on CUDA devices that support it, fp16 on older ones, fp32 on the CPU
    (CPU autocast is slower than fp32 for these convolutions).
    """
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and precision == "fp16":
        raise ConfigError("fp16 training needs a CUDA device; on the CPU use precision fp32 or bf16",
                          setting="precision")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def setup_runtime(device: str, precision: Precision) -> Runtime:
    """Resolve the device and precision, joining the torchrun process group when launched by it.

    Raises:
        ConfigError: CUDA asked for but absent.
    """
    import torch.distributed as dist

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device} asked for, but torch sees no CUDA device; use device cpu",
                              setting="device")
        if world_size > 1:
            resolved = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(resolved)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo")
    return Runtime(device=resolved, autocast_dtype=resolve_precision(precision, resolved), rank=rank,
                   world_size=world_size)


def teardown_runtime(runtime: Runtime) -> None:
    """Leave the process group (if this process joined one)."""
    import torch.distributed as dist

    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def distribute(module: nn.Module, runtime: Runtime) -> nn.Module:
    """``module`` wrapped in DistributedDataParallel under DDP, else as it is."""
    if not runtime.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [runtime.device.index] if runtime.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)
