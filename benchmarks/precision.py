"""The error of fp16 and bf16 against fp32 on the swap, in 8-bit levels.

    python benchmarks/precision.py --presets tiny,paper,ghost --batch 2
    python benchmarks/precision.py --devices cuda --presets paper --batch 8 --json precision.json

For each preset (``ghost``: the paper size with ghost's raw z_id, 2 AAD units) a random-weight
FaceShifter model swaps seeded random crops through the run's
:class:`~vidswap.pipeline.swap.Swapper` in fp32 and under fp16 and bf16 autocast on the same
device (CPU autocast on the CPU), with and without HEAR-Net. The error of a precision is
``|y - y_fp32| * 127.5``, the difference in 8-bit levels of the [-1, 1] output: its mean, 99th
percentile and maximum over every pixel and channel. :func:`precision_errors` is what the GPU
benchmark calls with its own model and crops.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from benchmarks.common import environment, torch_devices, torch_parser, write_json  # noqa: E402
from vidswap.models.checkpoint import build_bundle  # noqa: E402
from vidswap.models.config import FaceShifterConfig  # noqa: E402
from vidswap.models.family import SwapModel  # noqa: E402
from vidswap.pipeline.swap import Swapper  # noqa: E402
from vidswap.weights.ghost import ghost_config  # noqa: E402

__all__ = ["Error", "error_levels", "precision_errors", "random_inputs"]


@dataclass(frozen=True)
class Error:
    """The difference of two swaps in 8-bit levels (the [-1, 1] output times 127.5)."""

    mean: float
    p99: float
    max: float


def error_levels(reference: torch.Tensor, other: torch.Tensor) -> Error:
    """Mean, 99th percentile and maximum of ``|other - reference|`` in 8-bit levels."""
    levels = (other.float() - reference.float()).abs().flatten().cpu().double() * 127.5
    return Error(mean=float(levels.mean()), p99=float(torch.quantile(levels, 0.99)), max=float(levels.max()))


def random_inputs(model: SwapModel, batch: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random crops in [-1, 1] and z_id in the model's form (unit length when normalised,
    else at a raw ArcFace embedding's typical norm, about 20)."""
    generator = torch.Generator().manual_seed(seed)
    size, c_id = model.crop_size, model.config.c_id
    x_t = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    z_id = torch.nn.functional.normalize(torch.randn(batch, c_id, generator=generator), dim=-1)
    return x_t, z_id if model.config.id_normalized else z_id * 20


def precision_errors(model: SwapModel, x_t: torch.Tensor, z_id: torch.Tensor, *, device: torch.device,
                     refine: bool, precisions: tuple[str, ...] = ("fp16", "bf16")) -> dict[str, Error]:
    """The error against fp32 of the swap of ``x_t`` to ``z_id`` in each of ``precisions``, on ``device``."""
    def swap(precision: str) -> torch.Tensor:
        return Swapper(model, refine=refine, device=device, precision=precision)(x_t, z_id).images

    reference = swap("fp32")
    return {precision: error_levels(reference, swap(precision)) for precision in precisions}


def main(argv: list[str] | None = None) -> int:
    parser = torch_parser(__doc__, warmup=0, repeats=1)
    parser.add_argument("--presets", default="tiny,paper",
                        help="comma-separated presets: tiny, paper, ghost (default: tiny,paper)")
    parser.add_argument("--batch", type=int, default=2, help="crops per swap (default: 2)")
    args = parser.parse_args(argv)
    devices = torch_devices(args)
    rows = []
    print(f"{'preset':6} {'device':6} {'refine':6} {'dtype':5} {'mean':>7} {'p99':>7} {'max':>7}  (8-bit levels)")
    for device_name in devices:
        device = torch.device(device_name)
        for preset in args.presets.split(","):
            torch.manual_seed(0)
            cfg = ghost_config() if preset == "ghost" else FaceShifterConfig.preset(preset)
            model = build_bundle(cfg, hear=True)
            x_t, z_id = random_inputs(model, args.batch)
            for refine in (False, True):
                for precision, error in precision_errors(model, x_t, z_id, device=device, refine=refine).items():
                    rows.append({"preset": preset, "device": device.type, "refine": refine,
                                 "precision": precision, "batch": args.batch, **asdict(error)})
                    print(f"{preset:6} {device.type:6} {refine!s:6} {precision:5} {error.mean:7.3f} "
                          f"{error.p99:7.3f} {error.max:7.2f}", flush=True)
    if args.json:
        write_json(args.json, {"benchmark": "precision.error_vs_fp32",
                               "environment": environment(torch.device(devices[-1])), "results": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
