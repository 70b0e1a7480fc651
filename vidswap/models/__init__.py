"""The swap models: the family seam (:mod:`~vidswap.models.family`) and the FaceShifter networks
(AEI-Net, HEAR-Net, multi-scale discriminator, ArcFace identity).

Names load on first use (PEP 562), so ``vidswap.models.config`` stays importable without torch.

Example:
    >>> from vidswap.models import FaceShifterConfig, AEINet, HEARNet
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidswap.models.aei import AEINet
    from vidswap.models.checkpoint import build_bundle, load_checkpoint, save_checkpoint
    from vidswap.models.config import FaceShifterConfig
    from vidswap.models.discriminator import MultiScaleDiscriminator
    from vidswap.models.faceshifter import ModelBundle
    from vidswap.models.family import SwapModel, SwapModelConfig, family_class, load_swap_model
    from vidswap.models.hear import HEARNet
    from vidswap.models.identity import (
        IdentityEncoder,
        IResNet,
        OnnxIdentityEncoder,
        TorchIdentityEncoder,
        build_identity_backbone,
        resize_for_identity,
    )

__all__ = [
    "SwapModel",
    "SwapModelConfig",
    "family_class",
    "load_swap_model",
    "FaceShifterConfig",
    "AEINet",
    "HEARNet",
    "MultiScaleDiscriminator",
    "IResNet",
    "IdentityEncoder",
    "TorchIdentityEncoder",
    "OnnxIdentityEncoder",
    "build_identity_backbone",
    "resize_for_identity",
    "ModelBundle",
    "build_bundle",
    "save_checkpoint",
    "load_checkpoint",
]

_HOMES = {
    "SwapModel": "family",
    "SwapModelConfig": "family",
    "family_class": "family",
    "load_swap_model": "family",
    "FaceShifterConfig": "config",
    "AEINet": "aei",
    "HEARNet": "hear",
    "MultiScaleDiscriminator": "discriminator",
    "IResNet": "identity",
    "IdentityEncoder": "identity",
    "TorchIdentityEncoder": "identity",
    "OnnxIdentityEncoder": "identity",
    "build_identity_backbone": "identity",
    "resize_for_identity": "identity",
    "ModelBundle": "faceshifter",
    "build_bundle": "checkpoint",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
