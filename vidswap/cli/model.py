"""``vidswap model``: parameter counts of the FaceShifter networks, random-weight model files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vidswap.models.config import PRESETS, FaceShifterConfig

__all__ = ["model", "parameter_counts"]


def parameter_counts(cfg: FaceShifterConfig) -> dict[str, int]:
    """Parameters of each network for ``cfg``, counted on the meta device (instant, no memory)."""
    import torch

    from vidswap.models.aei import AEINet
    from vidswap.models.checkpoint import build_part

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    with torch.device("meta"):
        aei = AEINet(cfg)
        return {"aei_net": count(aei), "attribute_encoder": count(aei.encoder),
                "aad_generator": count(aei.generator), "hear_net": count(build_part("hear", cfg)),
                "discriminator": count(build_part("discriminator", cfg)),
                "identity_encoder": count(build_part("identity", cfg))}


@click.group("model")
def model() -> None:
    """Inspect FaceShifter model sizes and write random-weight model files."""


@model.command("summary")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="paper", show_default=True,
              help="Model size to describe: paper (256², as published) or tiny (for tests).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
def summary(preset: str, as_json: bool) -> None:
    """Print the parameter count of each network of a preset."""
    counts = parameter_counts(FaceShifterConfig.preset(preset))
    if as_json:
        click.echo(json.dumps({"preset": preset, "parameters": counts}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"FaceShifter '{preset}' preset")
    table.add_column("network")
    table.add_column("parameters", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    Console().print(table)


@model.command("init")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="tiny", show_default=True,
              help="Model size: tiny (fast, for tests and benchmarks) or paper (256², as published).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="FILE", help="Model file to write (.safetensors).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random initialisation.")
@click.option("--discriminator", is_flag=True, help="Also store a discriminator (for training).")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def init(preset: str, output: Path, seed: int, discriminator: bool, force: bool) -> None:
    """Write a complete model file with random weights (AEI-Net, HEAR-Net, identity encoder).

    Its swaps are noise: it exists to test and benchmark the pipeline without trained weights.
    """
    import torch

    from vidswap.models.checkpoint import build_bundle, save_checkpoint
    from vidswap.weights.metadata import RANDOM_WEIGHTS_LICENCE

    torch.manual_seed(seed)
    bundle = build_bundle(FaceShifterConfig.preset(preset), discriminator=discriminator,
                          metadata={"source": f"random initialisation (vidswap model init --seed {seed})",
                                    "licence": RANDOM_WEIGHTS_LICENCE})
    save_checkpoint(output, bundle, overwrite=force)
    total = sum(p.numel() for m in bundle.parts().values() for p in m.parameters())
    click.echo(f"wrote {output} ({preset} preset, {total:,} parameters)", err=True)
