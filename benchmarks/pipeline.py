"""Benchmark ``vidswap run``: the whole streaming run next to each of its stages alone.

Usage:
    python benchmarks/pipeline.py [--clip CLIP] [--source PHOTO] [--preset tiny --frames 0]
                                  [--preset paper --frames 6] [--device auto] [--json PATH]

For each preset (a random model of that size, built in memory), on the same frames of a real clip
and in the same process:

- ``run``: wall time of :func:`vidswap.pipeline.runner.run_pipeline` (weights given, so nothing is
  fetched; the face pass and the render pass, encode included);
- each stage alone, fed from memory: ``decode`` (VideoReader: RGB for the face pass, and
  ``decode_native``: the render's pictures), ``detect`` (the detector on the
  decoded frames, in its batches), ``faces`` (tracking, selection and smoothing of those detections),
  ``swap`` (align + AEI-Net [+ HEAR-Net] in swap batches), ``composite`` (paste back) and
  ``encode`` (VideoWriter, audio copied).

It reports run ÷ sum of stages (below 1: stages overlap in threads; the run decodes twice, once
per pass, so both decodes count in the sum) and run ÷ slowest stage (1.0 is the most that
overlapping can give), and the peak resident memory of the run. ``--frames 0`` means every frame.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import environment, sync, write_json  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


class PeakMemory:
    """Peak resident set size of this process while the block runs (sampled every 10 ms)."""

    def __enter__(self) -> PeakMemory:
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _rss() -> int:
        import os

        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())


def timed(fn, device: torch.device) -> tuple[float, object]:
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def bench_preset(preset: str, *, clip: Path, source: Path, frames: int, device_name: str, batch: int | str,
                 refine: bool, folder: Path) -> dict:
    from vidswap.io.reader import VideoReader
    from vidswap.io.writer import VideoWriter
    from vidswap.models.checkpoint import build_bundle
    from vidswap.models.config import FaceShifterConfig
    from vidswap.pipeline import parse_frame_range, pipeline_from_options
    from vidswap.pipeline.analysis import analyse_faces
    from vidswap.pipeline.render import composite_stage, swap_stage
    from vidswap.pipeline.runner import run_pipeline
    from vidswap.pipeline.session import RenderSession, RunOptions
    from vidswap.pipeline.swap import resolve_device

    torch.manual_seed(0)
    device = resolve_device(device_name)
    bundle = build_bundle(FaceShifterConfig.preset(preset))
    options = {"input": str(clip), "sources.source": [str(source)], "output.path": str(folder / "run.mp4"),
               "output.overwrite": True, "model.refine": refine, "model.device": device_name,
               "model.batch_size": batch}
    if frames:
        options["frames"] = f"0-{frames - 1}"
    spec = pipeline_from_options(options)
    run_options = RunOptions(model=bundle, progress=False)
    run_pipeline(spec.model_copy(update={"frames": parse_frame_range("0-3")}), run_options)  # warm-up
    with PeakMemory() as memory:
        run_s, summary = timed(lambda: run_pipeline(spec, run_options), device)

    # The stages alone, on the same frames, fed from memory.
    session = RenderSession(spec, run_options)
    schedule, swapper, detectors = session.schedule, session.swapper, session.detectors
    identities, references = session.embed_photos()
    stages: dict[str, float] = {}

    def decode() -> list:
        with VideoReader(clip, frames=schedule.frames) as reader:
            return list(reader)

    def decode_pictures() -> list:
        with VideoReader(clip, frames=schedule.frames) as reader:
            return list(reader.pictures())

    stages["decode"], decoded = timed(decode, device)
    stages["decode_native"], pictures = timed(decode_pictures, device)
    size = detectors.base.config.batch_size
    stages["detect"], _ = timed(lambda: [detectors.base.detect([f.rgb for f in decoded[i:i + size]])
                                         for i in range(0, len(decoded), size)], device)
    analysis = analyse_faces(((f.index, f.rgb) for f in decoded), schedule, detector_for=detectors,
                             batch_size=size, references=references)
    swap = swap_stage(swapper, analysis.faces, {k: v.to(device) for k, v in identities.items()},
                      batch_size=session.batch, color=session.color)
    # In chunks, so the crops held between the two stages stay few (as in the run's queues).
    settings = (spec.mask, spec.watermark)
    composite = composite_stage(settings_at=lambda index: settings, color=session.color, matte=False)
    stages["swap"] = stages["composite"] = 0.0
    composited = []
    with torch.inference_mode():
        for start in range(0, len(pictures), 32):
            took, swapped = timed(lambda chunk=pictures[start:start + 32]: list(swap(iter(chunk))), device)
            stages["swap"] += took
            took, done = timed(lambda crops=swapped: list(composite(iter(crops))), device)
            stages["composite"] += took
            composited.extend(done)

    def encode() -> None:
        with VideoReader(clip, frames=schedule.frames) as reader:
            with VideoWriter(folder / "encode.mp4", like=reader, settings=spec.encode.settings(),
                             overwrite=True) as writer:
                for frame, done in composited:
                    writer.write(frame.pts, done.picture)

    stages["encode"], _ = timed(encode, device)
    total = sum(stages.values())
    slowest = max(stages, key=stages.get)
    return {"preset": preset, "frames": summary.frames, "faces": summary.faces_swapped, "refine": refine,
            "batch_size": session.batch, "run_s": run_s, "run_fps": summary.frames / run_s, "stages_s": stages,
            "sum_of_stages_s": total, "run_over_sum": run_s / total, "slowest_stage": slowest,
            "run_over_slowest": run_s / stages[slowest], "peak_rss_mib": memory.peak / 2 ** 20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=SHARED / "media" / "videos" / "hamilton_short.mp4")
    parser.add_argument("--source", type=Path, default=SHARED / "media" / "photos" / "obama.jpg")
    parser.add_argument("--preset", action="append", choices=["tiny", "paper"],
                        help="model size (repeatable; default: tiny then paper)")
    parser.add_argument("--frames", type=int, action="append",
                        help="frames per preset, in the order of --preset (0: all; default 0 tiny, 6 paper)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", default="auto")
    parser.add_argument("--no-refine", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    if not args.clip.is_file() or not args.source.is_file():
        sys.exit(f"needs {args.clip} and {args.source} (../shared/media); pass --clip and --source")
    presets = args.preset or ["tiny", "paper"]
    frames = args.frames or [0 if p == "tiny" else 6 for p in presets]
    if len(frames) != len(presets):
        parser.error("give one --frames per --preset")
    batch = int(args.batch_size) if args.batch_size.isdigit() else args.batch_size
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for preset, count in zip(presets, frames, strict=True):
            results.append(bench_preset(preset, clip=args.clip, source=args.source, frames=count,
                                        device_name=args.device, batch=batch, refine=not args.no_refine,
                                        folder=Path(folder)))
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    print(f"clip {args.clip.name}, device {environment(device)['device']}, "
          f"{environment(device)['cpu_threads']} CPU threads")
    header = ("preset", "frames", "faces", "run s", "fps", "decode", "detect", "swap", "composite", "encode",
              "run/sum", "run/slowest", "peak MiB")
    print(" | ".join(header))
    for r in results:
        s = r["stages_s"]
        print(" | ".join([r["preset"], str(r["frames"]), str(r["faces"]), f"{r['run_s']:.2f}",
                          f"{r['run_fps']:.2f}",
                          *(f"{s[k]:.2f}" for k in ("decode", "detect", "swap", "composite", "encode")),
                          f"{r['run_over_sum']:.2f}", f"{r['run_over_slowest']:.2f} ({r['slowest_stage']})",
                          f"{r['peak_rss_mib']:.0f}"]))
    if args.json:
        write_json(args.json, {"environment": environment(device), "clip": str(args.clip),
                               "results": results})


if __name__ == "__main__":
    main()
