"""The frozen identity encoder of training: torch ArcFace weights and the 112² crop it sees.

Training backpropagates L_id through the identity network into the swap, so it needs the torch
backbone; insightface's ONNX recognition models are for inference only.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from vidswap.errors import CheckpointError, ConfigError, InputError
from vidswap.faces.align import AlignConfig, identity_crop
from vidswap.models.config import FaceShifterConfig
from vidswap.models.identity import IResNet, TorchIdentityEncoder, build_identity_backbone

__all__ = ["load_identity_backbone", "identity_embedding"]


def _read_state(path: Path) -> dict[str, Tensor]:
    """The backbone's tensors: ``identity.*`` of a vidswap model file, or a safetensors / .pth state dict."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        raise ConfigError(f"--identity {path}: an ONNX recognition model is not differentiable, and training "
                          "needs gradients of L_id through it. Give the torch weights of the same backbone: "
                          "an arcface_torch .pth (e.g. ghost's backbone.pth) or a vidswap model file "
                          "(.safetensors)")
    if suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                keys = list(f.keys())
                if any(k.startswith("identity.") for k in keys):
                    return {k.removeprefix("identity."): f.get_tensor(k).clone() for k in keys
                            if k.startswith("identity.")}
                return {k: f.get_tensor(k).clone() for k in keys}
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"--identity {path} is not a readable safetensors file: {err}") from err
    if suffix in (".pth", ".pt", ".bin"):
        from vidswap.weights.ghost import load_torch_state_dict

        return load_torch_state_dict(path)
    raise ConfigError(f"--identity {path}: expected a .safetensors (vidswap model file or state dict) or an "
                      f"arcface_torch .pth, got {suffix or 'no extension'!r}")


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
        raise InputError(f"--identity {path} does not exist; give ArcFace torch weights "
                         "(.pth or .safetensors)")
    state = _read_state(path)
    backbone = build_identity_backbone(cfg.identity_backbone, num_features=cfg.c_id)
    expected = backbone.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"--identity {path} does not fit the {cfg.identity_backbone} backbone with {cfg.c_id} features "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}); pick the "
            "matching --identity-backbone (iresnet50 / iresnet100) or other weights")
    backbone.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return backbone.eval().requires_grad_(False)


def identity_embedding(encoder: TorchIdentityEncoder, images: Tensor, cfg: FaceShifterConfig) -> Tensor:
    """z_id of aligned crops as AEI-Net consumes it, differentiable with respect to ``images``.

    The encoder sees the 112² crop that matches ``cfg.alignment`` (:func:`identity_crop`: the
    whole crop resized for both template modes), and the embedding is L2-normalised when
    ``cfg.id_normalized`` says so. L_id is a cosine, so it is indifferent to that normalisation.

    Args:
        encoder: the frozen torch identity encoder.
        images: ``B x 3 x 256 x 256`` crops in [-1, 1].
        cfg: the model config.

    Returns:
        ``B x c_id`` float32.
    """
    # The antialiased resize has no bf16/fp16 CPU kernel: it runs in fp32 outside autocast.
    with torch.autocast(images.device.type, enabled=False):
        crops = identity_crop(images.float(), AlignConfig(template=cfg.alignment, crop_size=cfg.image_size))
    z = encoder.embed(crops).float()
    return F.normalize(z, dim=1) if cfg.id_normalized else z
