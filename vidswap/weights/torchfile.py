"""The one way vidswap reads foreign weight files: torch pickles safely, safetensors as they are.

Every ``.pth`` (ghost's AEI-Net, arcface_torch backbones, any imported checkpoint) is read
here, with ``torch.load(weights_only=True)`` on the CPU: only tensors and plain containers
unpickle; anything else (a pickled object whose ``__reduce__`` runs a command) is refused.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap.errors import CheckpointError, InputError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["PTH_SUFFIXES", "load_torch_state_dict", "load_state_file"]

#: Suffixes read as torch pickles (only through ``weights_only=True``).
PTH_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")


def load_torch_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read a plain torch state dict (``.pth``) without running code from the file.

    Raises:
        InputError: the file does not exist.
        CheckpointError: the file is not a torch checkpoint, holds more than tensors, or is not
            a flat mapping of names to tensors.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).splitlines()[0]
        raise CheckpointError(f"refused to load {path}: it holds more than tensors (unpickling it could run "
                              "code). Only plain state dicts are imported; re-save it with "
                              f"torch.save(model.state_dict()) from trusted code. ({reason})") from err
    except (RuntimeError, EOFError, OSError, ValueError, RecursionError) as err:
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {err}") from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, expected a state dict (name → tensor)")
    bad = next((k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise CheckpointError(f"{path} is not a flat state dict: entry {bad!r} is a "
                              f"{type(obj[bad]).__name__}, expected a tensor")
    return dict(obj)


def load_state_file(path: str | Path) -> dict[str, Tensor]:
    """A flat state dict from a ``.safetensors`` file (all its tensors) or a torch pickle (safely).

    Raises:
        InputError: the file does not exist.
        CheckpointError: an unreadable or malformed safetensors file, or an unsafe or malformed torch
            checkpoint.
    """
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        return load_torch_state_dict(path)
    from safetensors import SafetensorError, safe_open

    from vidswap.models.safetensors_file import read_safetensors_header

    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    read_safetensors_header(path)  # a header past the end or offsets that miss the data: one error
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k).clone() for k in f.keys()}
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
