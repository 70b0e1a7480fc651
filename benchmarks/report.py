"""Benchmark the QC report: what measuring the render and making the report add to a render.

Usage:
    python benchmarks/report.py [--seconds 10] [--fps 25] [--size 96x64] [--segment-frames 48]
                                [--repeats 1] [--json PATH]

On a generated clip (the stub detector puts one face in every frame) with the ``tiny`` random
model, on CPU, in one process, each a full job render into a fresh job folder:

- ``plain``: the job with the render's QC collector switched off (``tests/report/helpers.py``);
- ``measured``: the job as it renders (face-pass counts stored; per frame the identity of each
  swapped crop through the model's encoder, the matte and its coverage, the contact sheet's matte
  thumbnails);
- ``report``: ``vidswap report`` of the measured job (HTML page with plots and contact sheet,
  EDL, CSV), and ``json``: its ``--json``.

Reported: (measured + report) / plain - 1, the cost of a report relative to the render (target
at most 5%), and its two parts. The median of ``--repeats`` runs each, plain and measured
alternating; a one-second render warms the caches first.
"""

from __future__ import annotations

import argparse
import statistics
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
    parser.add_argument("--seconds", type=int, default=10, help="clip length in seconds")
    parser.add_argument("--fps", type=int, default=25, help="clip frame rate")
    parser.add_argument("--size", default="96x64", help="clip WIDTHxHEIGHT")
    parser.add_argument("--segment-frames", type=int, default=48, help="frames per segment")
    parser.add_argument("--repeats", type=int, default=1, help="renders of each kind (median reported)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    from tests.io.media import frame_image, make_clip
    from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo
    from tests.report.helpers import unmeasured
    from vidswap.jobs.job import default_job_dir, run_job
    from vidswap.pipeline import pipeline_from_options
    from vidswap.pipeline.session import RunOptions
    from vidswap.report.build import report_json, write_report

    width, height = (int(v) for v in args.size.split("x"))
    frames = args.seconds * args.fps
    samples: dict[str, list[float]] = {"plain": [], "measured": [], "report": [], "json": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tiny = make_tiny_model(folder / "tiny.safetensors")
        clip = make_clip(folder / "clip.mp4", frames=frames, width=width, height=height,
                         rate=Fraction(args.fps), gop=args.fps)
        photo = write_photo(folder / "me.png", frame_image(3, 128, 128))
        options = RunOptions(progress=False, detector=StubDetector())

        def render(name: str, **more: str) -> Path:
            out = folder / name
            spec = pipeline_from_options({"input": str(clip), "sources.me": [str(photo)], "output.path": str(out),
                                          "model.path": str(tiny), "encode.codec": "libx264",
                                          "encode.preset": "ultrafast", **more})
            run_job(spec, default_job_dir(out), segment_frames=args.segment_frames, options=options)
            return out

        def timed(name: str, fn) -> object:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            result = fn()
            samples[name].append(time.perf_counter() - start)
            return result

        render("warm.mp4", frames=f"0-{args.fps - 1}")
        for repeat in range(args.repeats):
            with unmeasured():
                timed("plain", lambda: render(f"plain{repeat}.mp4"))  # noqa: B023
            out = timed("measured", lambda: render(f"measured{repeat}.mp4"))  # noqa: B023
            timed("report", lambda: write_report(out))  # type: ignore[arg-type]  # noqa: B023
            timed("json", lambda: report_json(out))  # type: ignore[arg-type]  # noqa: B023
    seconds = {name: statistics.median(values) for name, values in samples.items()}
    measuring = seconds["measured"] / seconds["plain"] - 1
    reporting = seconds["report"] / seconds["plain"]
    total = (seconds["measured"] + seconds["report"]) / seconds["plain"] - 1
    print(f"clip: {args.seconds} s at {args.fps} fps ({frames} frames, {width}x{height}), tiny model, CPU "
          f"{torch.get_num_threads()} threads, segments of {args.segment_frames} frames, {args.repeats} repeat(s)")
    for name, value in seconds.items():
        print(f"{name:10} {value:8.2f} s")
    print(f"measuring the render: {measuring:+.1%}; making the report: {reporting:+.1%}; "
          f"together: {total:+.1%} of the render (target at most +5%)")
    if args.json:
        write_json(args.json, {"environment": environment(torch.device("cpu")), "args": vars(args) | {"json": None},
                               "frames": frames, "seconds": seconds, "samples": samples,
                               "measuring_over_render": measuring, "report_over_render": reporting,
                               "total_over_render": total})


if __name__ == "__main__":
    main()
