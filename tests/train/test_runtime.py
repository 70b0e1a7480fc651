"""Device and precision resolution; one mixed-precision step stays finite."""

from __future__ import annotations

import math

import pytest
import torch

from vidswap.errors import ConfigError
from vidswap.models import FaceShifterConfig
from vidswap.models.identity import build_identity_backbone
from vidswap.train.aei import AEITrainer
from vidswap.train.config import TrainConfig
from vidswap.train.runtime import resolve_precision, setup_runtime


class TestResolvePrecision:
    def test_cpu(self) -> None:
        cpu = torch.device("cpu")
        assert resolve_precision("auto", cpu) is None and resolve_precision("fp32", cpu) is None
        assert resolve_precision("bf16", cpu) is torch.bfloat16
        with pytest.raises(ConfigError, match="fp16 training needs a CUDA device"):
            resolve_precision("fp16", cpu)

    def test_cuda_auto(self) -> None:
        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA device (auto precision picks bf16 or fp16 there)")
        assert resolve_precision("auto", torch.device("cuda")) in (torch.bfloat16, torch.float16)


def test_missing_cuda_is_a_config_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error is for machines without it")
    with pytest.raises(ConfigError, match="no CUDA device"):
        setup_runtime("cuda", "auto")


def test_bf16_autocast_step_is_finite(device: torch.device) -> None:
    cfg = FaceShifterConfig.preset("tiny")
    runtime = setup_runtime(str(device), "bf16")
    trainer = AEITrainer.create(cfg, build_identity_backbone("iresnet-tiny"),
                                TrainConfig(steps=1, batch_size=2), runtime)
    x = (torch.rand(2, 3, 256, 256) * 2 - 1).to(runtime.device)
    result = trainer.train_step(x, x.flip(0), torch.tensor([True, False], device=runtime.device))
    assert trainer.step == 1 and all(math.isfinite(v) for v in result.losses.values()), result.losses
    # Autocast computes in bf16 but keeps the weights (and Adam's state) in fp32.
    assert all(p.dtype == torch.float32 for p in trainer.aei.parameters())
