"""Benchmark the faces stage: detection frames/s per backend, and smoothing jitter/shift per clip.

Usage:
    python benchmarks/faces.py [--shared ../shared] [--repeats 3] [--json results.json]

Detection: frames/s of ``Detector.detect`` on batches of real 720p and 1080p frames (from
``singer_720p.mp4`` / ``crowd_1080p.mp4``; random frames when the media are absent), at the
default long side 640 and at full size, median and spread over repeats after one warm-up.
Smoothing: for every clip in ``media/videos``, tracks from the default detector, cut detector and tracker;
jitter (RMS second difference ÷ face size) and shift (mean distance to raw ÷ face size) of the raw
landmarks, a centred 5-frame mean and our smoother, pooled over tracks of 10+ frames.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vidswap.faces.cuts import CutConfig, CutDetector  # noqa: E402
from vidswap.faces.detect import DetectorConfig, create_detector  # noqa: E402
from vidswap.faces.smooth import SmootherConfig, compare_smoothing  # noqa: E402
from vidswap.faces.track import TrackerConfig, track_faces  # noqa: E402


def read_video(path: Path, limit: int | None = None) -> list[np.ndarray]:
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit is not None and len(frames) >= limit:
                break
    return frames


def available_backends(shared: Path) -> list[str]:
    """yunet_onnx; yunet_kornia when its weights are cached or in ../shared; insightface if installed."""
    import torch

    names = ["yunet_onnx"]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / "yunet_final.pth"
    local = shared / "weights" / "yunet_final.pth"
    if not cached.is_file() and local.is_file():
        home = Path(tempfile.mkdtemp()) / "torch"
        (home / "hub" / "checkpoints").mkdir(parents=True)
        shutil.copy(local, home / "hub" / "checkpoints" / local.name)
        os.environ["TORCH_HOME"] = str(home)
        cached = home / "hub" / "checkpoints" / local.name
    if cached.is_file():
        names.append("yunet_kornia")
    try:
        import insightface  # noqa: F401

        names.append("insightface")
    except ImportError:
        pass
    return names


def bench_detection(shared: Path, repeats: int, batch: int, device: str) -> list[dict]:
    videos = shared / "media" / "videos"
    sources = {"720p": (videos / "singer_720p.mp4", (720, 1280)),
               "1080p": (videos / "crowd_1080p.mp4", (1080, 1920))}
    rng = np.random.default_rng(0)
    rows = []
    for backend in available_backends(shared):
        for label, (path, shape) in sources.items():
            frames = read_video(path, batch) if path.is_file() else \
                [rng.integers(0, 255, (*shape, 3), dtype=np.uint8) for _ in range(batch)]
            for long_side in (640, 0):
                config = DetectorConfig(backend=backend, long_side=long_side, batch_size=batch)
                detector = create_detector(config, device=device)
                detector.detect(frames)  # warm-up
                rates = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    found = detector.detect(frames)
                    if device.startswith("cuda"):
                        import torch

                        torch.cuda.synchronize()
                    rates.append(len(frames) / (time.perf_counter() - start))
                rows.append({"backend": backend, "resolution": label, "long_side": long_side or "full",
                             "batch": batch, "fps_median": statistics.median(rates),
                             "fps_spread": max(rates) - min(rates),
                             "faces_per_frame": sum(map(len, found)) / len(found)})
    return rows


def bench_smoothing(shared: Path, limit: int | None) -> list[dict]:
    detector = create_detector(DetectorConfig())
    rows = []
    for path in sorted((shared / "media" / "videos").glob("*.mp4")):
        frames = read_video(path, limit)
        cut_detector = CutDetector(CutConfig())
        cuts = {i for i, frame in enumerate(frames) if cut_detector.is_cut(frame)}
        tracks = track_faces(detector.detect(frames), TrackerConfig(), cuts=cuts)
        report = compare_smoothing([t.path() for t in tracks if len(t.faces) >= 10], SmootherConfig())
        row = {"clip": path.name, **asdict(report), "pass": report.passes}
        rows.append(row)
    return rows


def environment(device: str) -> dict:
    import onnxruntime
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = ""
    return {"commit": commit, "python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "device": device}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default_shared = Path(__file__).resolve().parent.parent.parent / "shared"
    parser.add_argument("--shared", type=Path, default=default_shared,
                        help="folder with media/videos (default ../shared)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per case (after one warm-up)")
    parser.add_argument("--batch", type=int, default=8, help="frames per detect call")
    parser.add_argument("--device", default="cpu", help="torch device for torch backends")
    parser.add_argument("--frames", type=int, default=None, help="use only the first N frames of each clip")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args()

    detection = bench_detection(args.shared, args.repeats, args.batch, args.device)
    print("detection (frames/s, median ± spread)")
    print(f"{'backend':<14}{'input':<8}{'long side':>10}{'batch':>7}{'fps':>9}{'±':>7}{'faces/frame':>13}")
    for r in detection:
        print(f"{r['backend']:<14}{r['resolution']:<8}{r['long_side']!s:>10}{r['batch']:>7}"
              f"{r['fps_median']:>9.1f}{r['fps_spread']:>7.1f}{r['faces_per_frame']:>13.1f}")
    smoothing = []
    if (args.shared / "media" / "videos").is_dir():
        smoothing = bench_smoothing(args.shared, args.frames)
        print("\nsmoothing (÷ face size; jitter = RMS 2nd difference, shift = mean distance to raw)")
        print(f"{'clip':<20}{'tracks':>7}{'frames':>7}{'jit raw':>9}{'jit mean5':>10}{'jit ours':>9}"
              f"{'shift mean5':>12}{'shift ours':>11}  ok")
        for r in smoothing:
            print(f"{r['clip']:<20}{r['tracks']:>7}{r['frames']:>7}{r['jitter_raw']:>9.4f}"
                  f"{r['jitter_mean5']:>10.4f}{r['jitter_ours']:>9.4f}"
                  f"{r['shift_mean5']:>12.4f}{r['shift_ours']:>11.4f}  "
                  f"{'yes' if r['pass'] else 'NO'}")
    if args.json is not None:
        args.json.write_text(json.dumps({"environment": environment(args.device), "detection": detection,
                                         "smoothing": smoothing}, indent=2))


if __name__ == "__main__":
    main()
