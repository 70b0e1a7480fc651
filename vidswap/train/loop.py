"""The loop both trainers share: batches in, losses logged, samples and checkpoints out.

A trainer (AEI-Net or HEAR-Net) owns its networks and optimisers and offers one step and a
save; :func:`run_loop` drives it from its current step to ``TrainConfig.steps`` with a progress
bar, a :class:`~vidswap.train.monitor.LossLog`, sample grids and checkpoints (rank 0 only).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Subset

from vidswap.errors import OutputExistsError, TrainingError
from vidswap.train.config import TrainConfig
from vidswap.train.data import FaceCrops, PairDataset, PairSampler
from vidswap.train.monitor import LossLog, save_sample_grid
from vidswap.train.runtime import Runtime
from vidswap.train.state import latest_checkpoint

__all__ = ["StepResult", "Trainer", "LoopResult", "pair_batches", "check_run_folder", "run_loop"]


@dataclass(frozen=True)
class StepResult:
    """One step's losses (floats by name) and the image rows of its sample grid."""

    losses: dict[str, float]
    samples: Sequence[Tensor]


class Trainer(Protocol):
    """What :func:`run_loop` drives."""

    kind: str
    step: int
    loss_names: tuple[str, ...]

    def train_step(self, x_s: Tensor, x_t: Tensor, same: Tensor) -> StepResult:
        """One optimiser step on a batch; increments :attr:`step`."""
        ...

    def save(self, run: Path) -> Path:
        """Write the checkpoint of the current step; returns the model file."""
        ...


@dataclass(frozen=True)
class LoopResult:
    """Where a run stopped: the step, the last checkpoint written, each step's losses."""

    step: int
    checkpoint: Path | None
    history: list[dict[str, float]]


def pair_batches(data: str | Path, *, config: TrainConfig, runtime: Runtime, image_size: int, start_step: int,
                 subset: Sequence[int] | None = None) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Endless ``(x_s, x_t, same)`` batches of the dataset ``data`` from ``start_step`` on, on the device.

    ``subset`` restricts the pairs to those crop indices (e.g. HEAR-Net's hardest crops).
    """
    crops: FaceCrops | Subset[Tensor] = FaceCrops(data, image_size=image_size)
    if subset is not None:
        crops = Subset(crops, list(subset))
    sampler = PairSampler(len(crops), batch_size=config.batch_size, same_share=config.same_share,
                          seed=config.seed, start_step=start_step, rank=runtime.rank)
    loader = DataLoader(PairDataset(crops), batch_sampler=sampler, num_workers=config.num_workers,
                        pin_memory=runtime.device.type == "cuda", persistent_workers=config.num_workers > 0)
    for x_s, x_t, same in loader:
        yield (x_s.to(runtime.device, non_blocking=True), x_t.to(runtime.device, non_blocking=True),
               same.to(runtime.device))


def check_run_folder(run: Path, *, resume: bool) -> bool:
    """Whether ``run`` holds a checkpoint to resume from; refuses to start over an existing run.

    Raises:
        OutputExistsError: ``run`` has checkpoints and ``resume`` is false.
    """
    has = latest_checkpoint(run) is not None
    if has and not resume:
        raise OutputExistsError(f"{run} already holds a training run; continue it with resume, or "
                                "choose another run folder", setting="resume")
    return has and resume


def run_loop(trainer: Trainer, batches: Iterator[tuple[Tensor, Tensor, Tensor]], *, run: Path,
             config: TrainConfig, runtime: Runtime, progress: bool = True) -> LoopResult:
    """Train from ``trainer.step`` to ``config.steps``.

    Raises:
        TrainingError: a loss became NaN or infinite (the message names it and the step; the
            last checkpoint is intact).
    """
    from vidswap.progress import progress_bar

    run.mkdir(parents=True, exist_ok=True)
    log = LossLog(run, trainer.loss_names) if runtime.is_main else None
    history: list[dict[str, float]] = []
    checkpoint = None
    try:
        with progress_bar(unit="steps", disable=not (progress and runtime.is_main)) as bar:
            task = bar.add_task(f"train {trainer.kind}", total=config.steps, completed=trainer.step)
            while trainer.step < config.steps:
                result = trainer.train_step(*next(batches))
                step = trainer.step
                bad = [k for k, v in result.losses.items() if not math.isfinite(v)]
                # fp16's grad scaler skips steps with inf gradients; a non-finite loss is a real failure.
                if bad:
                    raise TrainingError(f"step {step}: loss {', '.join(bad)} is not finite "
                                        f"({ {k: result.losses[k] for k in bad} }); lower lr or use "
                                        "precision fp32, then resume from the last checkpoint", setting="lr")
                history.append({"step": float(step), **result.losses})
                bar.advance(task)
                if not runtime.is_main:
                    continue
                if step % config.log_every == 0 or step == config.steps:
                    log.write(step, result.losses)  # type: ignore[union-attr]
                if config.sample_every and step % config.sample_every == 0:
                    save_sample_grid(run / "samples" / f"step_{step:09d}.png",
                                     [s.detach() for s in result.samples])
                if (config.checkpoint_every and step % config.checkpoint_every == 0) or step == config.steps:
                    checkpoint = trainer.save(run)
    finally:
        if log is not None:
            log.close()
    if runtime.distributed:
        torch.distributed.barrier()
    return LoopResult(step=trainer.step, checkpoint=checkpoint, history=history)
