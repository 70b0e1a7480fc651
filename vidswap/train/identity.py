"""The frozen identity encoder of training: torch ArcFace weights and the 112² crop it sees.

Training backpropagates L_id through the identity network into the swap, so it needs the torch
backbone; insightface's ONNX recognition models are for inference only.
"""

from __future__ import annotations

from pathlib import Path

import torch.nn.functional as F
from torch import Tensor

from vidswap.errors import CheckpointError, ConfigError, InputError
from vidswap.models.config import FaceShifterConfig
from vidswap.models.identity import (
    IResNet,
    TorchIdentityEncoder,
    build_identity_backbone,
    resize_for_identity,
)
from vidswap.weights.torchfile import PTH_SUFFIXES, load_state_file

__all__ = ["load_identity_backbone", "identity_embedding"]


def _read_state(path: Path) -> dict[str, Tensor]:
    """The backbone's tensors: ``identity.*`` of a vidswap model file, or a safetensors / .pth state dict."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        raise ConfigError(f"identity {path}: an ONNX recognition model is not differentiable, and training "
                          "needs gradients of L_id through it. Give the torch weights of the same backbone: "
                          "an arcface_torch .pth (e.g. ghost's backbone.pth) or a vidswap model file "
                          "(.safetensors)", setting="identity")
    if suffix == ".safetensors" or suffix in PTH_SUFFIXES:
        state = load_state_file(path)
        if any(k.startswith("identity.") for k in state):
            return {k.removeprefix("identity."): v for k, v in state.items() if k.startswith("identity.")}
        return state
    raise ConfigError(f"identity {path}: expected a .safetensors (vidswap model file or state dict) or an "
                      f"arcface_torch .pth, got {suffix or 'no extension'!r}", setting="identity")


def load_identity_backbone(path: str | Path, cfg: FaceShifterConfig) -> IResNet:
    """The ArcFace backbone named by ``cfg.identity_backbone`` with the weights of ``path``, strictly.

    Args:
        path: a vidswap model file (its ``identity.*`` tensors), a safetensors state dict, or an
            arcface_torch ``.pth`` (read with ``weights_only=True``).
        cfg: the model config (backbone and embedding size).

    Raises:
        InputError: the file does not exist.
        ConfigError: an ONNX model or an unknown file type.
        CheckpointError: the tensors do not fit the backbone (names the first culprits).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"identity {path} does not exist; give ArcFace torch weights "
                         "(.pth or .safetensors)", setting="identity")
    state = _read_state(path)
    backbone = build_identity_backbone(cfg.identity_backbone, num_features=cfg.c_id)
    expected = backbone.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"identity {path} does not fit the {cfg.identity_backbone} backbone with {cfg.c_id} features "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}); pick the "
            "matching identity_backbone (iresnet50 / iresnet100) or other weights", setting="identity")
    backbone.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return backbone.eval().requires_grad_(False)


def identity_embedding(encoder: TorchIdentityEncoder, images: Tensor, cfg: FaceShifterConfig) -> Tensor:
    """z_id of aligned crops as AEI-Net consumes it, differentiable with respect to ``images``.

    The encoder sees the same 112² crop as at inference
    (:func:`~vidswap.models.identity.resize_for_identity`, FaceShifter's
    :meth:`~vidswap.models.faceshifter.ModelBundle.identity_crop`), and the embedding is
    L2-normalised when ``cfg.id_normalized`` says so. L_id is a cosine, so it is indifferent to
    that normalisation.

    Args:
        encoder: the frozen torch identity encoder.
        images: ``B x 3 x 256 x 256`` crops in [-1, 1].
        cfg: the model config.

    Returns:
        ``B x c_id`` float32.
    """
    z = encoder.embed(resize_for_identity(images.float())).float()
    return F.normalize(z, dim=1) if cfg.id_normalized else z
