"""Shared benchmark helpers: timing with warm-up and device sync, environment record, JSON output."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and spread (min, max) over ``repeats`` timed calls."""

    median_s: float
    min_s: float
    max_s: float
    repeats: int


def sync(device: torch.device) -> None:
    """Wait for queued device work, so a timer measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], device: torch.device, *, warmup: int = 2, repeats: int = 5) -> Timing:
    """Time ``fn()`` after ``warmup`` untimed calls; the device is synced inside the timed region."""
    for _ in range(warmup):
        fn()
    sync(device)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        samples.append(time.perf_counter() - start)
    return Timing(median_s=statistics.median(samples), min_s=min(samples), max_s=max(samples),
                  repeats=repeats)


def git_commit() -> str | None:
    """The checkout's commit (with ``-dirty`` when it has changes), or None outside git."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def environment(device: torch.device) -> dict[str, Any]:
    """What the figures depend on: commit, versions, device, CPU threads."""
    return {"commit": git_commit(), "python": platform.python_version(), "torch": torch.__version__,
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "cpu_threads": torch.get_num_threads()}


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` as strict JSON (dataclasses expanded)."""
    path.write_text(json.dumps(doc, indent=2, default=lambda o: asdict(o), allow_nan=False) + "\n")


def torch_parser(description: str | None, *, warmup: int, repeats: int) -> argparse.ArgumentParser:
    """An argument parser with the options every torch benchmark shares: --devices, --threads,
    --warmup, --repeats and --json; add the benchmark's own options to it."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", default=None,
                        help="comma-separated devices (default: cpu, and cuda if present)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--warmup", type=int, default=warmup, help=f"untimed calls first (default: {warmup})")
    parser.add_argument("--repeats", type=int, default=repeats,
                        help=f"timed calls, median reported (default: {repeats})")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the results as JSON")
    return parser


def torch_devices(args: argparse.Namespace) -> list[str]:
    """Apply --threads and return the devices of --devices (default: cpu, and cuda if present)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.devices:
        return args.devices.split(",")
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
