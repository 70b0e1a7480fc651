"""Import ai-forever/ghost AEI-Net checkpoints (``G_unet_{1block,2blocks,3blocks}.pth``).

ghost saves a plain torch state dict (possibly fp16, from apex O2) whose layout matches our
:class:`~vidswap.models.aei.AEINet` module for module; only the names differ
(``encoder.conv1.0.weight`` → ``encoder.down.0.conv.weight``,
``generator.AADBlk1.add_blocks.3.fc1.weight`` → ``generator.blocks.0.units.1.aad.id_gamma.weight``).
:func:`load_ghost` is the one place a ghost model is converted, for a model file
(:func:`~vidswap.weights.convert.convert_ghost_file`) and for a run alike; its files are read
through :mod:`vidswap.weights.torchfile` (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap.errors import CheckpointError
from vidswap.models.config import FaceShifterConfig

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["GHOST_IDENTITY", "ghost_config", "ghost_key", "check_ghost_aei", "convert_ghost_aei",
           "load_ghost_identity", "load_ghost"]

#: The manifest name of the ArcFace backbone ghost's AEI-Net was trained with (its z_id was computed with it).
GHOST_IDENTITY = "ghost_arcface_backbone"

_AAD = {"conv1": "att_gamma", "conv2": "att_beta", "fc1": "id_gamma", "fc2": "id_beta", "conv_h": "mask"}
_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"


def _unit(block: str, index: str, part: str) -> str:
    """Our name of ghost's ``add_blocks`` entry ``index``, an AAD layer (3j) or a conv (3j+2)."""
    j, r = divmod(int(index), 3)
    if r != {"aad": 0, "conv": 2}[part]:
        raise CheckpointError(f"AADBlk{block}.add_blocks.{index} cannot hold {part} weights in ghost's "
                              "layout (AAD layers at indices 3j, ReLUs at 3j+1, convs at 3j+2); "
                              "not a ghost AEI-Net file")
    return f"generator.blocks.{int(block) - 1}.units.{j}.{part}"


_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern), rename) for pattern, rename in (
        (r"encoder\.conv(\d+)\.0\.weight", lambda m: f"encoder.down.{int(m[1]) - 1}.conv.weight"),
        (rf"encoder\.conv(\d+)\.1\.{_BN}", lambda m: f"encoder.down.{int(m[1]) - 1}.norm.{m[2]}"),
        (r"encoder\.deconv(\d+)\.deconv\.weight", lambda m: f"encoder.up.{int(m[1]) - 1}.conv.weight"),
        (rf"encoder\.deconv(\d+)\.bn\.{_BN}", lambda m: f"encoder.up.{int(m[1]) - 1}.norm.{m[2]}"),
        (r"generator\.up1\.(weight|bias)", lambda m: f"generator.stem.{m[1]}"),
        (r"generator\.AADBlk(\d+)\.add_blocks\.(\d+)\.(conv1|conv2|fc1|fc2|conv_h)\.(weight|bias)",
         lambda m: f"{_unit(m[1], m[2], 'aad')}.{_AAD[m[3]]}.{m[4]}"),
        (r"generator\.AADBlk(\d+)\.add_blocks\.(\d+)\.weight",
         lambda m: f"{_unit(m[1], m[2], 'conv')}.weight"),
        (r"generator\.AADBlk(\d+)\.last_add_block\.0\.(conv1|conv2|fc1|fc2|conv_h)\.(weight|bias)",
         lambda m: f"generator.blocks.{int(m[1]) - 1}.shortcut.aad.{_AAD[m[2]]}.{m[3]}"),
        (r"generator\.AADBlk(\d+)\.last_add_block\.2\.weight",
         lambda m: f"generator.blocks.{int(m[1]) - 1}.shortcut.conv.weight"),
    ))


def ghost_config(*, aad_units: int = 2) -> FaceShifterConfig:
    """The ``paper`` config with ghost's conventions: its pose-template alignment, raw
    (not L2-normalised) iresnet100 embeddings, and ``aad_units`` (1, 2 or 3) per block."""
    return FaceShifterConfig.preset("paper", aad_units=aad_units, alignment="insightface-poses",
                                    id_normalized=False, identity_backbone="iresnet100")


def ghost_key(name: str) -> str:
    """Our AEINet state-dict key for a ghost AEI-Net key.

    Raises:
        CheckpointError: ``name`` is not a key of ghost's U-Net AEI-Net.
    """
    for pattern, rename in _RULES:
        match = pattern.fullmatch(name)
        if match:
            return rename(match)
    raise CheckpointError(f"unknown key {name!r} in the ghost checkpoint: expected the keys of ghost's U-Net "
                          "AEI-Net (encoder.convN, encoder.deconvN, generator.up1, generator.AADBlkN); "
                          "is this a G_unet_*.pth file?")


def _aad_units(state: Mapping[str, Tensor]) -> int:
    """Units per AAD ResBlk, read off the highest ``AADBlk1.add_blocks`` index."""
    pattern = re.compile(r"generator\.AADBlk1\.add_blocks\.(\d+)\.")
    indices = [int(m[1]) for k in state if (m := pattern.match(k))]
    if not indices:
        raise CheckpointError("the ghost checkpoint has no generator.AADBlk1.add_blocks.* keys; "
                              "is this a G_unet_*.pth AEI-Net file?")
    return max(indices) // 3 + 1


def convert_ghost_aei(state: Mapping[str, Tensor],
                      cfg: FaceShifterConfig | None = None) -> tuple[FaceShifterConfig, dict[str, Tensor]]:
    """Map a ghost AEI-Net state dict onto our :class:`~vidswap.models.aei.AEINet`.

    Args:
        state: ghost's state dict (fp16 or fp32; BatchNorm running stats included).
        cfg: the target config; default :func:`ghost_config` with the number of AAD units
            found in ``state``.

    Returns:
        The config and a state dict that ``AEINet(cfg).load_state_dict(..., strict=True)``
        accepts, floating tensors cast to float32.

    Raises:
        CheckpointError: a key is unknown, missing or of another shape; the message names the
            first offending key (and both shapes).
    """
    cfg = cfg if cfg is not None else ghost_config(aad_units=_aad_units(state))
    expected = check_ghost_aei({k: tuple(v.shape) for k, v in state.items()}, cfg)
    converted: dict[str, Tensor] = {}
    for name, tensor in state.items():
        ours = ghost_key(name)
        want = expected[ours]
        converted[ours] = tensor.detach().to(dtype=want.dtype if want.is_floating_point() else tensor.dtype)
    return cfg, converted


def check_ghost_aei(shapes: Mapping[str, tuple[int, ...]], cfg: FaceShifterConfig) -> dict[str, Tensor]:
    """Check that ghost-named tensors of ``shapes`` fill an AEI-Net of ``cfg`` exactly; the
    network's (meta-device) state dict, by our names.

    Raises:
        CheckpointError: a key is unknown, missing or of another shape; the message names the
            first offending key (and both shapes).
    """
    import torch

    from vidswap.models.aei import AEINet

    with torch.device("meta"):
        expected = AEINet(cfg).state_dict()
    seen = set()
    for name, shape in shapes.items():
        ours = ghost_key(name)
        if ours not in expected:
            raise CheckpointError(f"ghost key {name!r} (as {ours!r}) has no place in an AEI-Net with "
                                  f"{cfg.aad_units} AAD unit(s) per block; checkpoint and config disagree")
        want = expected[ours]
        if tuple(shape) != tuple(want.shape):
            raise CheckpointError(f"ghost key {name!r} has shape {tuple(shape)} but {ours!r} needs "
                                  f"{tuple(want.shape)}; the checkpoint is not the paper-size U-Net AEI-Net")
        seen.add(ours)
    missing = [k for k in expected if k not in seen]
    if missing:
        first = missing[0]
        raise CheckpointError(f"the ghost checkpoint lacks {len(missing)} AEI-Net tensor(s), "
                              f"first {first!r}, "
                              f"{tuple(expected[first].shape)}; the file is truncated or another model")
    return dict(expected)


def load_ghost(aei: str | Path,
               identity: str | Path) -> tuple[FaceShifterConfig, dict[str, dict[str, Tensor]]]:
    """The one conversion of a ghost model: its AEI-Net checkpoint and ArcFace backbone as the
    state dicts of a FaceShifter model file (``aei`` and ``identity``), with their config.

    Both files are read through :mod:`vidswap.weights.torchfile` (a ``.pth`` with
    ``weights_only=True``; an imported ``.safetensors`` as it is); floating tensors become
    float32 (ghost's checkpoints may be fp16, from apex O2).

    Raises:
        InputError: a file does not exist.
        CheckpointError: an unsafe file, or a key that is unknown, missing or of another shape.
    """
    from vidswap.models.checkpoint import is_model_file, read_model_header
    from vidswap.weights.torchfile import load_state_file

    if is_model_file(aei):  # a vidswap model file that failed to load: say why, not "unknown ghost key"
        read_model_header(aei)
        raise CheckpointError(f"{aei} is a vidswap model file, not a ghost AEI-Net checkpoint; load it "
                              "as a model file")
    cfg, aei_state = convert_ghost_aei(load_state_file(aei))
    return cfg, {"aei": aei_state, "identity": load_ghost_identity(identity)}


def load_ghost_identity(path: str | Path) -> dict[str, Tensor]:
    """An arcface_torch backbone state dict (``.pth`` or imported ``.safetensors``) with its floating
    tensors cast to float32: a model file keeps its tensors' dtypes, and the identity encoder
    embeds float32 crops, so an fp16 backbone would fail at the first embed."""
    from vidswap.weights.torchfile import load_state_file

    return {k: v.float() if v.is_floating_point() else v for k, v in load_state_file(path).items()}
