"""Benchmark jobs: re-rendering 1 s of a long clip versus rendering it all, and what segmenting costs.

Usage:
    python benchmarks/jobs.py [--seconds 60] [--fps 25] [--size 96x64] [--segment-frames 48]
                              [--range-seconds 1] [--json PATH]

On a generated clip (a moving pattern with audio; the stub detector puts one face in every
frame) with the ``tiny`` random model, on CPU, in one process:

- ``stream``: a plain streaming run (:func:`~vidswap.pipeline.runner.run_pipeline`), no job;
- ``job``: the same render as a job (face pass stored, segments, mux);
- ``resume``: the job run again with nothing to do (hash check, plan, mux skipped);
- ``range``: an override for ``--range-seconds`` in the middle of the clip (a mask change),
  re-rendering only the segments it touches, then the mux.

Reported: job ÷ stream (the cost of segmenting) and range ÷ job (the cost of fixing a second).
One timed call each (a render is long); a one-second run warms the caches first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import environment, write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="clip length in seconds")
    parser.add_argument("--fps", type=int, default=25, help="clip frame rate")
    parser.add_argument("--size", default="96x64", help="clip WIDTHxHEIGHT")
    parser.add_argument("--segment-frames", type=int, default=48, help="frames per segment")
    parser.add_argument("--range-seconds", type=float, default=1.0, help="length of the re-rendered range")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    from tests.io.media import frame_image, make_clip
    from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo
    from vidswap.jobs.job import run_job, with_range_override
    from vidswap.pipeline import pipeline_from_options
    from vidswap.pipeline.runner import run_pipeline
    from vidswap.pipeline.session import RunOptions

    width, height = (int(v) for v in args.size.split("x"))
    frames = args.seconds * args.fps
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tiny = make_tiny_model(folder / "tiny.safetensors")
        clip = make_clip(folder / "clip.mp4", frames=frames, width=width, height=height,
                         rate=Fraction(args.fps), gop=args.fps)
        photo = write_photo(folder / "me.png", frame_image(3, 128, 128))
        options = RunOptions(progress=False, detector=StubDetector())

        def spec(out: str, **more):
            return pipeline_from_options({"input": str(clip), "sources.me": [str(photo)],
                                          "output.path": str(folder / out), "model.path": str(tiny),
                                          "encode.codec": "libx264", "encode.preset": "ultrafast", **more})

        timings: dict[str, float] = {}

        def timed(name: str, fn) -> object:
            start = time.perf_counter()
            result = fn()
            timings[name] = time.perf_counter() - start
            return result

        run_pipeline(spec("warm.mp4", frames=f"0-{args.fps - 1}"), options)  # warm-up: the first second
        timed("stream", lambda: run_pipeline(spec("stream.mp4"), options))
        job = folder / "job"
        timed("job", lambda: run_job(spec("job.mp4"), job, segment_frames=args.segment_frames,
                                     options=options))
        timed("resume", lambda: run_job(spec("job.mp4"), job, options=options))
        first = frames // 2
        last = first + round(args.range_seconds * args.fps) - 1
        changed = with_range_override(spec("job.mp4"), f"{first}-{last}", {"mask.blur": 0.1})
        summary = timed("range", lambda: run_job(changed, job, options=options))
    rows = [("stream (no job)", timings["stream"], frames), ("job, full render", timings["job"], frames),
            ("job, resume with nothing to do", timings["resume"], 0),
            (f"job, re-render frames {first}-{last}", timings["range"], summary.frames)]
    print(f"clip: {args.seconds} s at {args.fps} fps ({frames} frames, {width}x{height}), tiny model, CPU "
          f"{torch.get_num_threads()} threads, segments of {args.segment_frames} frames")
    print(f"{'run':40} {'seconds':>9} {'frames':>7}")
    for name, seconds, count in rows:
        print(f"{name:40} {seconds:9.2f} {count:7d}")
    print(f"job / stream (segmenting overhead): {timings['job'] / timings['stream']:.3f}")
    print(f"range / job (cost of re-rendering {args.range_seconds:g} s): "
          f"{timings['range'] / timings['job']:.3f} ({len(summary.rendered)} segments re-rendered)")
    if args.json:
        write_json(args.json, {"environment": environment(torch.device("cpu")),
                               "args": vars(args) | {"json": None},
                               "seconds": timings, "range_frames": summary.frames,
                               "range_segments": summary.rendered,
                               "job_over_stream": timings["job"] / timings["stream"],
                               "range_over_job": timings["range"] / timings["job"]})


if __name__ == "__main__":
    main()
