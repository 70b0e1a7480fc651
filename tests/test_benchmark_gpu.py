"""benchmarks/gpu.py on the CPU: its error measure, the looped generated clip, a failing row that
leaves the rest running, the precision rows, and the end-to-end sections on a generated clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.gpu import Section, bench_crops, level_error, loop_clip, main
from tests.io.media import make_clip
from tests.pipeline.run_helpers import decode


def test_level_error_is_in_8_bit_levels() -> None:
    reference = torch.zeros(1, 3, 10, 10)
    y = reference.clone()
    y[0, 0, 0, :] = 2 / 255  # one row of one channel off by 1 level (of 255 over [-1, 1])
    error = level_error(y, reference)
    # 10 of 300 values differ by 1 level: mean 1/30, and more than 1% of them, so p99 is 1 too.
    assert abs(error["max"] - 1) < 1e-5 and abs(error["p99"] - 1) < 1e-5 and abs(error["mean"] - 1 / 30) < 1e-6


def test_loop_clip_repeats_the_frames_with_even_times(tmp_path: Path) -> None:
    base = make_clip(tmp_path / "base.mp4", frames=6, audio=False, gop=1000, b_frames=False)
    looped = tmp_path / "looped.mp4"
    loop_clip(base, looped, 15)
    frames = decode(looped)
    assert len(frames) == 15
    np.testing.assert_array_equal(frames[6], frames[0])
    np.testing.assert_array_equal(frames[14], frames[2])
    import av

    with av.open(str(looped)) as container:
        pts = sorted(f.pts for f in container.decode(video=0))
    assert len(set(np.diff(pts))) == 1


def test_a_failing_row_keeps_its_error_and_the_next_row_runs() -> None:
    section = Section("s")

    def fail() -> dict:
        raise RuntimeError("encoder did not open\nsecond line")

    section.attempt({"codec": "x"}, fail)
    section.attempt({"codec": "y"}, lambda: {"fps": 1.0})
    assert section.rows == [{"codec": "x", "error": "RuntimeError: encoder did not open"},
                            {"codec": "y", "fps": 1.0}]


def test_crop_rows_cover_every_precision_and_refinement() -> None:
    from vidswap.models.checkpoint import build_bundle
    from vidswap.models.config import FaceShifterConfig

    torch.manual_seed(0)
    bundle = build_bundle(FaceShifterConfig.preset("tiny"))
    rows = bench_crops(bundle, torch.device("cpu"), [1], warmup=0, repeats=1).rows
    assert [(r["precision"], r["refine"]) for r in rows] == [
        (p, refine) for refine in (False, True) for p in ("fp32", "fp16", "bf16")]
    by_key = {(r["precision"], r["refine"]): r for r in rows}
    assert by_key["fp32", False]["error_levels"]["max"] == 0.0  # the CPU has no TF32
    assert by_key["bf16", False]["error_levels"]["mean"] > 0.0
    assert all(r["crops_per_s"] > 0 and r["peak_rss_mib"] > 0 and r["peak_gpu_mib"] is None for r in rows)


def test_end_to_end_sections_on_a_generated_clip(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    assert main(["--device", "cpu", "--clip", "generated", "--frames", "3", "--skip", "crops",
                 "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["complete"] and doc["clip"]["kind"] == "generated" and "StubDetector" in doc["clip"]["detector"]
    floor, run = ({r["codec"]: r for r in doc["sections"][s]["rows"]} for s in ("floor", "run"))
    assert floor["libx264"]["frames"] == 3 and floor["libx264"]["fps"] > 0
    x264 = run["libx264"]
    assert x264["frames"] == 3 and x264["faces"] == 3
    assert x264["run_over_floor"] == x264["seconds"] / floor["libx264"]["seconds"]
    # NVENC: measured where it opens, else a row that says why it was skipped.
    assert "skipped" in run["h264_nvenc"] or run["h264_nvenc"]["frames"] == 3
