"""Benchmark the native pixel path: a 1080p 10-bit ProRes 422 HQ clip rendered as ``vidswap run`` does.

Usage:
    python benchmarks/native.py [--frames 24] [--repeats 2] [--compare /work/main]
                                [--json benchmarks/results/native-cpu2.json]

A clip (``testsrc2``, 1920x1080, yuv422p10le, ProRes 422 HQ in MOV) is generated with the ffmpeg
CLI and rendered with :func:`vidswap.pipeline.runner.run_pipeline` (the tiny random model built
in memory, a stub detector that finds one face in every frame at fixed landmarks, the default
encode: ProRes at the source's 10 bits). One row per checkout: the checkout this script runs
from (``PYTHONPATH``: its own ``vidswap``), and with ``--compare`` another one, run in a child
process with that ``PYTHONPATH`` (e.g. the 8-bit RGB path before native pixels). Each row gives
the best of ``--repeats`` runs (after a warm-up): frames per second of the whole run and of its
render pass (decode -> swap -> composite -> encode); the JSON has both rows and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: its vidswap wins

from benchmarks.common import environment, write_json  # noqa: E402


class StubDetector:
    """One face at fixed relative landmarks in every image (photos and frames)."""

    def __init__(self) -> None:
        from vidswap.faces.detect import DetectorConfig

        self.config = DetectorConfig(batch_size=4)
        self.relative = np.array([[0.44, 0.40], [0.56, 0.40], [0.50, 0.50], [0.45, 0.60], [0.55, 0.60]],
                                 np.float32)

    def detect(self, frames):
        from vidswap.faces.detect import Face

        out = []
        for frame in frames:
            h, w = frame.shape[:2]
            lm = (self.relative * [w, h]).astype(np.float32)
            box = (float(lm[:, 0].min() - 0.08 * w), float(lm[:, 1].min() - 0.15 * h),
                   float(lm[:, 0].max() + 0.08 * w), float(lm[:, 1].max() + 0.1 * h))
            out.append([Face(box=box, score=0.99, landmarks=lm)])
        return out


def make_clip(path: Path, frames: int) -> Path:
    """1080p 10-bit ProRes 422 HQ, BT.709 limited range, 24 fps."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=24",
                    "-frames:v", str(frames), "-vf", "setparams=range=tv:color_primaries=bt709:color_trc=bt709:"
                    "colorspace=bt709", "-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le",
                    str(path)], check=True)
    return path


def bench(clip: Path, folder: Path, repeats: int) -> dict:
    """Best of ``repeats`` renders of ``clip`` by the ``vidswap`` on the path."""
    import cv2

    import vidswap
    from vidswap.models.checkpoint import build_bundle
    from vidswap.models.config import FaceShifterConfig
    from vidswap.pipeline import parse_frame_range, pipeline_from_options
    from vidswap.pipeline.runner import run_pipeline
    from vidswap.pipeline.session import RunOptions

    torch.manual_seed(0)
    photo = folder / "photo.png"
    cv2.imwrite(str(photo), np.full((256, 256, 3), 128, np.uint8))
    options = RunOptions(model=build_bundle(FaceShifterConfig.preset("tiny")), detector=StubDetector(),
                         progress=False)
    spec = pipeline_from_options({"input": str(clip), "sources.me": [str(photo)], "output.overwrite": True,
                                  "output.path": str(folder / "out.mov"), "model.device": "cpu"})
    run_pipeline(spec.model_copy(update={"frames": parse_frame_range("0-3")}), options)  # warm-up
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        summary = run_pipeline(spec, options)
        runs.append((time.perf_counter() - started, summary.stage_seconds["render"], summary.frames))
    run_s, render_s, frames = min(runs)
    return {"vidswap": str(Path(vidswap.__file__).parent.parent), "frames": frames,
            "faces_swapped": summary.faces_swapped, "run_s": run_s, "run_fps": frames / run_s,
            "render_s": render_s, "render_fps": frames / render_s, "runs_s": [r[0] for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compare", type=Path, help="another checkout to measure the same way (its PYTHONPATH)")
    parser.add_argument("--clip", type=Path, help="use this clip (default: generate one)")
    parser.add_argument("--row", action="store_true", help="print one row as JSON (the --compare child)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        clip = args.clip or make_clip(folder / "prores_1080p.mov", args.frames)
        row = bench(clip, folder, args.repeats)
        if args.row:
            print(json.dumps(row))
            return
        rows = {"native": row}
        if args.compare:
            env = {**os.environ, "PYTHONPATH": str(args.compare)}
            child = subprocess.run([sys.executable, __file__, "--row", "--clip", str(clip), "--repeats",
                                    str(args.repeats)], env=env, check=True, capture_output=True, text=True)
            rows["rgb8"] = json.loads(child.stdout.strip().splitlines()[-1])
    for label, r in rows.items():
        print(f"{label:7s} {r['vidswap']}: {r['frames']} frames, run {r['run_fps']:.2f} fps, "
              f"render {r['render_fps']:.2f} fps")
    doc: dict = {"environment": environment(torch.device("cpu")),
                 "clip": "testsrc2 1920x1080 yuv422p10le ProRes 422 HQ (prores_ks profile 3), 24 fps",
                 "model": "tiny (random)", "rows": rows}
    if "rgb8" in rows:
        doc["native_over_rgb8"] = {key: rows["native"][key] / rows["rgb8"][key] for key in ("run_fps", "render_fps")}
        print("native / 8-bit RGB fps:", ", ".join(f"{k} {v:.3f}" for k, v in doc["native_over_rgb8"].items()))
    if args.json:
        write_json(args.json, doc)


if __name__ == "__main__":
    main()
