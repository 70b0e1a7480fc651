"""``--matte`` in job mode: each segment renders its matte beside its video (part of being done),
the mux joins the mattes into the matte video with the video's timing; an image-sequence matte is
written per frame by the segments; range re-renders and farm slices keep the matte in step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from tests.jobs.test_job import _options, _spec, media  # noqa: F401  (media: the module's clip fixture)
from tests.pipeline.run_helpers import decode, packet_pts
from vidswap.cli import main
from vidswap.jobs.job import run_job
from vidswap.pipeline.runner import run_pipeline

SEGMENT = 8


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_job_matte_equals_a_streaming_runs(media, tmp_path: Path) -> None:  # noqa: F811
    out, matte = tmp_path / "out.mkv", tmp_path / "matte.mkv"
    summary = run_job(_spec(media, out, matte=str(matte)), tmp_path / "job", segment_frames=SEGMENT,
                      options=_options())
    assert summary.output == out and matte.is_file()
    assert sorted(p.name for p in (tmp_path / "job" / "segments").glob("*.matte.nut")) == [
        "00000.matte.nut", "00001.matte.nut", "00002.matte.nut"]
    plain, plain_matte = tmp_path / "plain.mkv", tmp_path / "plain-matte.mkv"
    run_pipeline(_spec(media, plain, matte=str(plain_matte)), _options())
    assert _same(decode(matte), decode(plain_matte)) and _same(decode(out), decode(plain))
    assert packet_pts(matte) == packet_pts(out) == packet_pts(plain_matte)
    assert any(frame.any() for frame in decode(matte))  # faces were swapped: the matte is not empty
    again = run_job(_spec(media, out, matte=str(matte)), tmp_path / "job", options=_options())
    assert again.rendered == []


def test_a_matte_asked_for_later_renders_the_segments_again(media, tmp_path: Path) -> None:  # noqa: F811
    out, matte, job = tmp_path / "out.mkv", tmp_path / "matte.mkv", tmp_path / "job"
    run_job(_spec(media, out), job, segment_frames=SEGMENT, options=_options())
    summary = run_job(_spec(media, out, matte=str(matte)), job, options=_options())
    assert summary.rendered == [0, 1, 2] and matte.is_file()
    matte.unlink()  # a lost matte is muxed again from the segments, nothing rendered
    again = run_job(_spec(media, out, matte=str(matte)), job, options=_options())
    assert again.rendered == [] and packet_pts(matte) == packet_pts(out)
    show = CliRunner().invoke(main, ["job", "show", str(job), "--json"])
    assert json.loads(show.stdout)["output_state"] == "done"


def test_image_sequence_matte_range_fix_and_farm_render(media, tmp_path: Path) -> None:  # noqa: F811
    out, job = tmp_path / "out.mkv", tmp_path / "job"
    pattern = tmp_path / "mattes" / "m.%04d.png"
    pattern.parent.mkdir()
    run_job(_spec(media, out, matte=str(pattern)), job, segment_frames=SEGMENT, options=_options())
    files = sorted(pattern.parent.iterdir())
    assert [f.name for f in files] == [f"m.{i:04d}.png" for i in range(24)]
    before = {f.name: f.stat().st_mtime_ns for f in files}
    fix = CliRunner().invoke(main, ["run", str(job), "--frames", "9-12", "--set", "mask.blur=0.2",
                                    "--no-progress", "--json"])
    assert fix.exit_code == 0, fix.output
    assert json.loads(fix.stdout.splitlines()[0])["rendered"] == [1]  # frames 8-15
    changed = {f.name for f in sorted(pattern.parent.iterdir()) if f.stat().st_mtime_ns != before[f.name]}
    assert changed == {f"m.{i:04d}.png" for i in range(8, 16)}
    (pattern.parent / "m.0020.png").unlink()  # a farm node renders the segment whose matte is missing
    farm = CliRunner().invoke(main, ["render", str(job), "--no-progress", "--json"])
    assert farm.exit_code == 0, farm.output
    assert json.loads(farm.stdout)["rendered"] == [2] and (pattern.parent / "m.0020.png").is_file()
