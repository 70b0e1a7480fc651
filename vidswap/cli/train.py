"""``vidswap train aei|hear``: train AEI-Net, then HEAR-Net, on a dataset made by ``vidswap prepare``.

Multi-GPU: run the same command under ``torchrun --nproc_per_node N -m vidswap train ...``
with ``--device cuda``; ``--batch-size`` is per GPU and only rank 0 writes to the run folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vidswap.cli.errors import set_flags
from vidswap.train.config import TrainConfig

_TRAIN_FIELDS = ("steps", "batch_size", "lr", "same_share", "seed", "log_every", "sample_every",
                 "checkpoint_every", "device", "precision", "num_workers")


def _common(same_share: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options both trainers share (``same_share`` sets that option's default)."""
    defaults = TrainConfig()
    options = [
        click.option("--data", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Dataset folder written by `vidswap prepare`."),
        click.option("-o", "--output", "run", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Run folder: checkpoints/, samples/, losses.csv."),
        click.option("--steps", type=click.IntRange(min=1), default=defaults.steps, show_default=True,
                     help="Total optimiser steps (a resumed run stops at this total)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=defaults.batch_size,
                     show_default=True,
                     help="Pairs per step (per process under torchrun)."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=defaults.lr,
                     show_default=True,
                     help="Adam learning rate (betas 0, 0.999)."),
        click.option("--same-share", type=click.FloatRange(0, 1), default=same_share, show_default=True,
                     help="Share of each batch with the same image as source and target (where L_rec "
                     "applies)."),
        click.option("--seed", type=int, default=defaults.seed, show_default=True,
                     help="Seed of weights, pairs and occlusions."),
        click.option("--log-every", type=click.IntRange(min=1), default=defaults.log_every, show_default=True,
                     help="Write losses to losses.csv (and TensorBoard if installed) every N steps."),
        click.option("--sample-every", type=click.IntRange(min=0), default=defaults.sample_every,
                     show_default=True,
                     help="Save a sample grid (sources, targets, swaps) every N steps; 0 = never."),
        click.option("--checkpoint-every", type=click.IntRange(min=0), default=defaults.checkpoint_every,
                     show_default=True, help="Save a checkpoint every N steps (always at the end)."),
        click.option("--device", default="cuda" if _cuda() else "cpu",
                     show_default="cuda if present, else cpu",
                     help="Torch device: cpu, cuda or cuda:N."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
                     show_default=True, help="auto: bf16 autocast on CUDA (fp16 + grad scaler on older "
                     "GPUs), fp32 on the CPU."),
        click.option("--workers", "num_workers", type=click.IntRange(min=0), default=2, show_default=True,
                     help="DataLoader processes reading crops."),
        click.option("--resume", is_flag=True,
                     help="Continue the run in -o from its last checkpoint (options given here override the "
                     "saved ones, e.g. a larger --steps)."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
        click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout at the end."),
    ]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _train_config(ctx: click.Context, run: Path, resume: bool, values: dict[str, Any]) -> TrainConfig:
    """The run's settings: the options, or on --resume the saved ones overridden by options given."""
    from click.core import ParameterSource

    from vidswap.train.state import stored_train_config

    given = {k: values[k] for k in _TRAIN_FIELDS}
    stored = stored_train_config(run) if resume else None
    if stored is None:
        return TrainConfig(**given)
    explicit = {k: v for k, v in given.items() if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    return stored.replace(**explicit)


def _report(result: Any, run: Path, as_json: bool) -> None:
    import os

    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only rank 0 reports
    last = result.history[-1] if result.history else {}
    summary = {"run": str(run), "step": result.step,
               "checkpoint": str(result.checkpoint) if result.checkpoint else None,
               "losses": {k: v for k, v in last.items() if k != "step"}}
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
    else:
        click.echo(f"stopped at step {result.step}; checkpoint {summary['checkpoint']}", err=True)


@click.group()
def train() -> None:
    """Train FaceShifter: `train aei` first, then `train hear` on the AEI-Net it made."""
    set_flags({name: f"--{name.replace('_', '-')}"
               for name in ("identity", "identity_backbone", "aei", "device", "precision", "resume", "lr")})


@train.command("aei")
@click.option("--identity", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ArcFace torch weights for the frozen identity encoder: an arcface_torch .pth or a "
              "vidswap model file (.safetensors). ONNX models cannot be trained through. Not needed with "
              "--resume.")
@click.option("--preset", type=click.Choice(["paper", "tiny"]), default="paper", show_default=True,
              help="Network sizes: paper (184 M parameters) or tiny (tests).")
@click.option("--identity-backbone", type=click.Choice(["iresnet50", "iresnet100", "iresnet-tiny"]),
              help="ArcFace backbone of --identity (default: the preset's).")
@click.option("--alignment", type=click.Choice(["arcface", "insightface-poses"]),
              help="Alignment of the dataset's crops (default: the preset's; must match `vidswap prepare`).")
@_common(same_share=0.2)
@click.pass_context
def aei(ctx: click.Context, identity: Path | None, preset: str, identity_backbone: str | None,
        alignment: str | None, data: Path, run: Path, resume: bool, quiet: bool, as_json: bool,
        **values: Any) -> None:
    """Train AEI-Net (L_adv + 10 L_att + 5 L_id + 10 L_rec) against a multi-scale discriminator."""
    from vidswap.models.config import FaceShifterConfig
    from vidswap.train.aei import train_aei

    overrides = {k: v for k, v in (("identity_backbone", identity_backbone), ("alignment", alignment)) if v}
    model_config = FaceShifterConfig.preset(preset, **overrides)
    if identity is None and not resume:
        raise click.UsageError("--identity is required for a new run (ArcFace torch weights)")
    config = _train_config(ctx, run, resume, values)
    result = train_aei(data=data, run=run, train_config=config, model_config=model_config, identity=identity,
                       resume=resume, progress=not quiet)
    _report(result, run, as_json)


@train.command("hear")
@click.option("--aei", "aei_path", type=click.Path(exists=True, path_type=Path),
              help="The AEI-Net to refine: a model file or a `train aei` run folder (its last checkpoint). "
              "Not needed with --resume.")
@click.option("--occlusions", default="shape,hand,glasses,cutout", show_default=True,
              help="Comma-separated occluder kinds pasted on targets.")
@click.option("--hardest-share", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Train on this share of the crops AEI-Net reconstructs worst (taotaonice: 0.1).")
@_common(same_share=0.5)
@click.pass_context
def hear(ctx: click.Context, aei_path: Path | None, occlusions: str, hardest_share: float, data: Path,
         run: Path, resume: bool, quiet: bool, as_json: bool, **values: Any) -> None:
    """Train HEAR-Net (L'_id + L_chg + L'_rec) on occluded targets, AEI-Net frozen."""
    from vidswap.train.hear import train_hear
    from vidswap.train.occlusion import OcclusionConfig

    if aei_path is None and not resume:
        raise click.UsageError("--aei is required for a new run (an AEI-Net model file or run folder)")
    occlusion = OcclusionConfig(kinds=tuple(k.strip() for k in occlusions.split(",") if k.strip()))
    config = _train_config(ctx, run, resume, values)
    result = train_hear(data=data, run=run, train_config=config, aei=aei_path, occlusion=occlusion,
                        hardest_share=hardest_share, resume=resume, progress=not quiet)
    _report(result, run, as_json)
