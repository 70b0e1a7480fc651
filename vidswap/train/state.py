"""Training checkpoints: everything a resume needs, stored without pickled code.

A checkpoint of step N in ``RUN/checkpoints/`` is two files:

- ``step_000000N.safetensors``: a vidswap model file (:mod:`vidswap.models.checkpoint`) with the
  networks (AEI-Net: ``aei``, ``identity``, ``discriminator``; HEAR-Net: ``aei``, ``identity``,
  ``hear``) and the model config in its header; usable for inference as it is.
- ``step_000000N.state.pt``: a plain dict of tensors, numbers and strings (step, optimiser and
  grad-scaler state dicts, the :class:`~vidswap.train.config.TrainConfig` as JSON, the vidswap
  version), written with ``torch.save`` and read back with ``weights_only=True``.

Both are written to temporary names and renamed, the state file last, so a checkpoint whose
state file exists is complete.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from vidswap.errors import CheckpointError, InputError
from vidswap.models.checkpoint import ModelBundle, load_checkpoint, write_checkpoint
from vidswap.models.config import FaceShifterConfig
from vidswap.train.config import TrainConfig

__all__ = ["STATE_FORMAT", "TrainingState", "checkpoint_paths", "save_training_checkpoint",
           "load_resume_point", "load_training_state", "latest_checkpoint", "load_model_file",
           "stored_train_config"]

STATE_FORMAT = 1
_Part = TypeVar("_Part", bound=nn.Module)
_STEP_FILE = re.compile(r"^step_(\d+)\.state\.pt$")


@dataclass(frozen=True)
class TrainingState:
    """The non-network part of a training checkpoint.

    Attributes:
        kind: ``aei`` or ``hear``.
        step: optimiser steps done.
        optimizers: optimiser state dicts by name (``g``, ``d`` for AEI-Net; ``hear``).
        scaler: the grad scaler's state dict (empty when disabled).
        train_config: the run's :class:`~vidswap.train.config.TrainConfig` as JSON.
        version: the vidswap version that wrote it.
    """

    kind: str
    step: int
    optimizers: dict[str, dict[str, Any]]
    scaler: dict[str, Any]
    train_config: str
    version: str


def checkpoint_paths(run: str | Path, step: int) -> tuple[Path, Path]:
    """(model file, state file) of the checkpoint of ``step`` in the run folder ``run``."""
    base = Path(run) / "checkpoints" / f"step_{step:09d}"
    return base.with_suffix(".safetensors"), base.with_suffix(".state.pt")


def save_training_checkpoint(run: str | Path, *, config: FaceShifterConfig, networks: Mapping[str, nn.Module],
                             state: TrainingState, metadata: Mapping[str, str] | None = None) -> Path:
    """Write the checkpoint of ``state.step`` (model file, then state file); returns the model file."""
    model_path, state_path = checkpoint_paths(run, state.step)
    write_checkpoint(model_path, config, {name: m.state_dict() for name, m in networks.items()},
                     metadata={"source": f"vidswap train {state.kind}", "step": str(state.step),
                               **(metadata or {})},
                     overwrite=True)
    payload = {"format": STATE_FORMAT, "kind": state.kind, "step": state.step, "optimizers": state.optimizers,
               "scaler": state.scaler, "train_config": state.train_config, "version": state.version}
    fd, tmp = tempfile.mkstemp(prefix=f".{state_path.name}.", suffix=".tmp", dir=state_path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, state_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return model_path


def load_training_state(path: str | Path, *, kind: str) -> TrainingState:
    """Read a ``.state.pt`` file safely (``weights_only=True``), checking it is a ``kind`` checkpoint.

    Raises:
        InputError: the file does not exist.
        CheckpointError: unreadable, unsafe, another format or another kind of run.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"training state {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable vidswap training state: {err}") from err
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not a vidswap training state of format {STATE_FORMAT}")
    if data["kind"] != kind:
        raise CheckpointError(f"{path} is a checkpoint of `vidswap train {data['kind']}`, "
                              f"not of `train {kind}`")
    return TrainingState(kind=data["kind"], step=int(data["step"]), optimizers=data["optimizers"],
                         scaler=data["scaler"], train_config=data["train_config"], version=data["version"])


def latest_checkpoint(run: str | Path) -> tuple[Path, Path] | None:
    """(model file, state file) of the run's last complete checkpoint, or None when it has none."""
    folder = Path(run) / "checkpoints"
    if not folder.is_dir():
        return None
    steps = [int(m.group(1)) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name))]
    for step in sorted(steps, reverse=True):
        model_path, state_path = checkpoint_paths(run, step)
        if model_path.is_file():
            return model_path, state_path
    return None


def load_model_file(path: str | Path, device: torch.device) -> ModelBundle:
    """A model file, or the latest checkpoint of a run folder, loaded onto ``device``.

    Raises:
        InputError: neither a model file nor a run folder with a checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise InputError(f"{path} is a folder without checkpoints; give a run folder of "
                             "`vidswap train aei` that saved one, or a model file (.safetensors)")
        path = found[0]
    return load_checkpoint(path, device=device)


def load_resume_point(run: str | Path, device: torch.device, *, kind: str, part: str,
                      network: type[_Part]) -> tuple[ModelBundle, _Part, TrainingState]:
    """The model file, its trained ``part`` and the training state of the run's latest checkpoint.

    Args:
        run: the run folder.
        device: where the networks go.
        kind: the run kind the state must be (``aei`` or ``hear``).
        part: the network the model file must hold (``discriminator`` for AEI-Net runs, ``hear``).
        network: that network's class; the part is returned typed as one.

    Raises:
        InputError: the run has no checkpoint, or its model file lacks ``part``.
    """
    found = latest_checkpoint(run)
    if found is None:
        raise InputError(f"{run} has no checkpoint to resume from")
    bundle = load_model_file(found[0], device)
    trained = getattr(bundle, part)
    if not isinstance(trained, network):
        raise InputError(f"{found[0]} has no {part}; it is not a {kind} training checkpoint")
    return bundle, trained, load_training_state(found[1], kind=kind)


def stored_train_config(run: str | Path) -> TrainConfig | None:
    """The :class:`TrainConfig` saved with the run's latest checkpoint (None without one)."""
    found = latest_checkpoint(run)
    if found is None:
        return None
    data = torch.load(found[1], map_location="cpu", weights_only=True)
    return TrainConfig.from_json(data["train_config"])
