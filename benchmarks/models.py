"""Forward throughput (crops/s) of AEI-Net and HEAR-Net per preset, batch size and device.

    python benchmarks/models.py --presets tiny --batches 1,8,32
    python benchmarks/models.py --presets paper --batches 1 --repeats 3 --json results.json

CPU runs in float32; CUDA runs under bf16 autocast. Weights are random (the figures do not depend
on them); inputs are seeded. Reports the median of ``--repeats`` timed calls after ``--warmup``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from benchmarks.common import Timing, environment, time_call, torch_devices, torch_parser, write_json  # noqa: E402
from vidswap.models import AEINet, FaceShifterConfig, HEARNet  # noqa: E402


@dataclass(frozen=True)
class Row:
    net: str
    preset: str
    device: str
    batch: int
    timing: Timing

    @property
    def crops_per_s(self) -> float:
        return self.batch / self.timing.median_s


def forward_fn(net: str, cfg: FaceShifterConfig, batch: int, device: torch.device):
    """A no-argument callable running one forward pass of ``net`` on a seeded batch."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, 3, 256, 256, generator=g) * 2 - 1).to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    if net == "aei":
        model = AEINet(cfg).to(device).eval()
        z_id = torch.randn(batch, cfg.c_id, generator=g).to(device)

        def run() -> None:
            with torch.inference_mode(), autocast:
                model(x, z_id)
    else:
        model = HEARNet(cfg).to(device).eval()
        delta = (torch.rand(batch, 3, 256, 256, generator=g) * 0.2 - 0.1).to(device)

        def run() -> None:
            with torch.inference_mode(), autocast:
                model(x, delta)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = torch_parser(__doc__, warmup=2, repeats=5)
    parser.add_argument("--presets", default="tiny,paper", help="comma-separated presets (default: both)")
    parser.add_argument("--batches", default="1,8,32", help="comma-separated batch sizes (default: 1,8,32)")
    parser.add_argument("--nets", default="aei,hear", help="comma-separated networks: aei, hear")
    args = parser.parse_args(argv)
    devices = torch_devices(args)
    torch.manual_seed(0)
    rows: list[Row] = []
    print(f"{'net':5} {'preset':6} {'device':6} {'batch':>5} {'median ms':>10} {'min..max ms':>17} "
          f"{'crops/s':>9}")
    for device_name in devices:
        device = torch.device(device_name)
        for preset in args.presets.split(","):
            cfg = FaceShifterConfig.preset(preset)
            for net in args.nets.split(","):
                for batch in (int(b) for b in args.batches.split(",")):
                    timing = time_call(forward_fn(net, cfg, batch, device), device, warmup=args.warmup,
                                       repeats=args.repeats)
                    row = Row(net=net, preset=preset, device=device.type, batch=batch, timing=timing)
                    rows.append(row)
                    print(f"{net:5} {preset:6} {device.type:6} {batch:5d} {timing.median_s * 1e3:10.1f} "
                          f"{timing.min_s * 1e3:8.1f}..{timing.max_s * 1e3:<8.1f} {row.crops_per_s:9.2f}",
                          flush=True)
    if args.json:
        write_json(args.json, {
            "benchmark": "models.forward", "environment": environment(torch.device(devices[-1])),
            "autocast": {"cpu": None, "cuda": "bfloat16"},
            "results": [{"net": r.net, "preset": r.preset, "device": r.device, "batch": r.batch,
                         "crops_per_s": r.crops_per_s, "timing": r.timing} for r in rows]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
