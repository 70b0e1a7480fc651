"""Training throughput (images/s) of AEI-Net and HEAR-Net steps per preset, batch size and device.

    python benchmarks/train.py                               # tiny and paper, CPU (and CUDA if present)
    python benchmarks/train.py --presets paper --devices cuda --paper-batches 8,16 --json results.json

One AEI-Net step is the generator step (AEI-Net forward, attributes of the swap, identity of the
swap, discriminator, backward, Adam) plus the discriminator step; one HEAR-Net step is the occlusion,
two frozen AEI-Net passes and HEAR-Net's forward/backward. Images/s counts target crops. The
steps run the public trainers (:class:`vidswap.train.aei.AEITrainer`, ``HEARTrainer``) on a seeded
random batch with random weights (the figures do not depend on them); CPU in fp32, CUDA under the
trainers' ``auto`` precision (bf16 autocast). Paper size on the CPU is slow (seconds per step):
keep its batches and repeats small.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from benchmarks.common import Timing, environment, time_call, torch_devices, torch_parser, write_json  # noqa: E402
from vidswap.models import FaceShifterConfig, build_bundle  # noqa: E402
from vidswap.models.identity import build_identity_backbone  # noqa: E402
from vidswap.train.aei import AEITrainer  # noqa: E402
from vidswap.train.config import TrainConfig  # noqa: E402
from vidswap.train.hear import HEARTrainer  # noqa: E402
from vidswap.train.runtime import setup_runtime  # noqa: E402


@dataclass(frozen=True)
class Row:
    net: str
    preset: str
    device: str
    precision: str
    batch: int
    timing: Timing

    @property
    def images_per_s(self) -> float:
        return self.batch / self.timing.median_s


def step_fn(net: str, cfg: FaceShifterConfig, batch: int, device: str):
    """A no-argument callable running one training step of ``net`` on a fixed seeded batch."""
    train = TrainConfig(steps=10**9, batch_size=batch, device=device, same_share=0.5)
    runtime = setup_runtime(device, "auto")
    torch.manual_seed(0)
    if net == "aei":
        identity = build_identity_backbone(cfg.identity_backbone, num_features=cfg.c_id)
        trainer = AEITrainer.create(cfg, identity, train, runtime)
    else:
        trainer = HEARTrainer.create(build_bundle(cfg, hear=False), train, runtime)
    g = torch.Generator().manual_seed(0)
    x_s = (torch.rand(batch, 3, 256, 256, generator=g) * 2 - 1).to(runtime.device)
    x_t = (torch.rand(batch, 3, 256, 256, generator=g) * 2 - 1).to(runtime.device)
    same = (torch.arange(batch) < train.same_share * batch).to(runtime.device)
    dtype = runtime.autocast_dtype
    precision = "fp32" if dtype is None else str(dtype).removeprefix("torch.")
    return (lambda: trainer.train_step(x_s, x_t, same)), runtime.device, precision


def main(argv: list[str] | None = None) -> int:
    parser = torch_parser(__doc__, warmup=1, repeats=3)
    parser.add_argument("--presets", default="tiny,paper", help="comma-separated presets (default: both)")
    parser.add_argument("--nets", default="aei,hear", help="comma-separated trainers: aei, hear")
    parser.add_argument("--batches", default="1,4", help="tiny preset batch sizes (default: 1,4)")
    parser.add_argument("--paper-batches", default=None,
                        help="paper preset batch sizes (default: 1 on the CPU, 1,8 on CUDA)")
    args = parser.parse_args(argv)
    devices = torch_devices(args)
    rows: list[Row] = []
    print(f"{'net':5} {'preset':6} {'device':6} {'prec':5} {'batch':>5} {'median ms':>10} "
          f"{'min..max ms':>19} {'images/s':>9}")
    for device in devices:
        for preset in args.presets.split(","):
            cfg = FaceShifterConfig.preset(preset)
            if preset == "paper":
                batches = args.paper_batches or ("1" if device == "cpu" else "1,8")
            else:
                batches = args.batches
            for net in args.nets.split(","):
                for batch in (int(b) for b in batches.split(",")):
                    fn, dev, precision = step_fn(net, cfg, batch, device)
                    timing = time_call(fn, dev, warmup=args.warmup, repeats=args.repeats)
                    row = Row(net=net, preset=preset, device=dev.type, precision=precision, batch=batch,
                              timing=timing)
                    rows.append(row)
                    print(f"{net:5} {preset:6} {dev.type:6} {precision:5} {batch:5d} "
                          f"{timing.median_s * 1e3:10.1f} "
                          f"{timing.min_s * 1e3:9.1f}..{timing.max_s * 1e3:<9.1f} "
                          f"{row.images_per_s:9.2f}",
                          flush=True)
                    del fn
    if args.json:
        write_json(args.json, {
            "benchmark": "train.step", "environment": environment(torch.device(devices[-1])),
            "results": [{"net": r.net, "preset": r.preset, "device": r.device, "precision": r.precision,
                         "batch": r.batch, "images_per_s": r.images_per_s, "timing": r.timing}
                        for r in rows]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
