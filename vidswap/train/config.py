"""Settings of a training run (AEI-Net or HEAR-Net), shared by both loops; torch-free."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

from vidswap.errors import ConfigError

__all__ = ["Precision", "TrainConfig"]

Precision = Literal["auto", "fp32", "bf16", "fp16"]


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How long, how fast and how often: the optimiser, batches, logs, samples and checkpoints.

    Attributes:
        steps: total optimiser steps of the run (a resumed run stops at the same total).
        batch_size: pairs per step and per process (under DDP the global batch is this × world size).
        lr: Adam learning rate of every network trained (the paper: 4e-4).
        betas: Adam betas (the paper: (0, 0.999)).
        same_share: share of each batch with X_s = X_t (AEI-Net: 0.2 as the paper; HEAR-Net: 0.5).
        seed: seeds weights, pairs and occlusions; batches depend only on (seed, step, rank).
        log_every: write the losses to CSV/TensorBoard every this many steps.
        sample_every: save a sample grid every this many steps (0: never).
        checkpoint_every: save a checkpoint every this many steps (0: only at the end).
        device: ``cpu``, ``cuda`` or ``cuda:N`` (under torchrun the local rank picks the GPU).
        precision: ``auto`` (bf16 autocast on CUDA when supported, else fp16 with a grad
            scaler; fp32 on the CPU), or forced ``fp32``/``bf16``/``fp16``.
        num_workers: DataLoader worker processes that read crops.
    """

    steps: int = 500_000
    batch_size: int = 8
    lr: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.999)
    same_share: float = 0.2
    seed: int = 0
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 5000
    device: str = "cpu"
    precision: Precision = "auto"
    num_workers: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(self.betas))
        for name, low in (("steps", 1), ("batch_size", 1), ("log_every", 1), ("sample_every", 0),
                          ("checkpoint_every", 0), ("num_workers", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not 0.0 <= self.same_share <= 1.0:
            raise ConfigError(f"same_share must lie in [0, 1], got {self.same_share!r}")
        if self.precision not in get_args(Precision):
            raise ConfigError(f"precision must be one of {', '.join(get_args(Precision))}, "
                              f"got {self.precision!r}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError(f"device must be cpu, cuda or cuda:N, got {self.device!r}")

    def to_json(self) -> str:
        """The settings as one JSON object (keys sorted)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Inverse of :meth:`to_json`."""
        data: dict[str, Any] = json.loads(text)
        return cls(**data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (checked again)."""
        return dataclasses.replace(self, **changes)
