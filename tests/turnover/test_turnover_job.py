"""The turnover in job mode: each segment writes its frames' layers straight to the turnover folder,
so a segment is done only with them (one missing: that segment alone renders again), and the
finished job's layer over the plate is the muxed output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests import oracle
from tests.io.media import frame_image
from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo
from vidswap.cli import main
from vidswap.jobs.job import render_slice, run_job, with_range_override
from vidswap.jobs.turnover import job_turnover
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.session import RunOptions

SEGMENT = 4  # 10 frames: segments of 4, 4 and 2


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    oracle.require_tools()
    folder = tmp_path_factory.mktemp("turnover-job")
    clip = folder / "plate.mkv"
    oracle.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=0.4", "-c:v", "ffv1", "-pix_fmt", "gbrp",
                  str(clip))
    return {"tiny": make_tiny_model(folder / "tiny.safetensors"), "clip": clip,
            "photo": write_photo(folder / "me.png", frame_image(3, 128, 128)), "folder": folder}


def _spec(assets: dict[str, Path], folder: Path, **options):
    return pipeline_from_options({"input": str(assets["clip"]), "sources.me": [str(assets["photo"])],
                                  "output.path": str(folder / "out.mkv"), "model.path": str(assets["tiny"]),
                                  "model.batch_size": 4, "encode.codec": "ffv1", **options})


def _options() -> RunOptions:
    return RunOptions(progress=False, detector=StubDetector())


def _check_over(plate_file: Path, output_file: Path, pattern: Path) -> None:
    """The layers over the plate (numpy, float) are the output within one 8-bit code value."""
    plate, output = oracle.planes(plate_file, "gbrp"), oracle.planes(output_file, "gbrp")
    for index in range(10):
        layer = oracle.rgba_image(Path(str(pattern) % index)).astype(np.float64)
        g, b, r = (p.astype(np.float64) / 255 for p in plate.frames[index])
        comp = np.rint((np.stack([r, g, b], axis=-1) * (1 - layer[..., 3:]) + layer[..., :3]) * 255)
        og, ob, orr = output.frames[index]
        assert np.abs(comp - np.stack([orr, og, ob], axis=-1)).max() <= 1, f"frame {index}"


def test_job_turnover_resumes_by_segment(assets: dict[str, Path]) -> None:
    folder = assets["folder"] / "job"
    folder.mkdir()
    turnover = folder / "turnover"
    spec = _spec(assets, folder, **{"turnover.dir": str(turnover), "turnover.format": "tiff"})
    first = run_job(spec, folder / "job", segment_frames=SEGMENT, options=_options())
    assert first.rendered == [0, 1, 2] and first.output is not None
    _check_over(assets["clip"], first.output, turnover / "layer" / "face.%04d.tif")
    manifest = json.loads((turnover / "manifest.json").read_text())
    assert manifest["frames"]["count"] == 10 and manifest["layer"] == "layer/face.%04d.tif"

    again = run_job(spec, folder / "job", segment_frames=SEGMENT, options=_options())
    assert again.rendered == []
    (turnover / "layer" / "face.0005.tif").unlink()
    resumed = run_job(spec, folder / "job", segment_frames=SEGMENT, options=_options())
    assert resumed.rendered == [1]
    assert (turnover / "layer" / "face.0005.tif").is_file()


def test_a_turnover_asked_for_later_renders_the_segments_again(assets: dict[str, Path]) -> None:
    folder = assets["folder"] / "later"
    folder.mkdir()
    assert run_job(_spec(assets, folder), folder / "job", segment_frames=SEGMENT, options=_options()).rendered \
        == [0, 1, 2]
    spec = _spec(assets, folder, **{"turnover.dir": str(folder / "turnover")})
    summary = run_job(spec, folder / "job", segment_frames=SEGMENT, options=_options())
    assert summary.rendered == [0, 1, 2]
    assert len(list((folder / "turnover" / "layer").glob("face.*.exr"))) == 10


def test_vidswap_turnover_from_a_jobs_stored_state(assets: dict[str, Path]) -> None:
    folder = assets["folder"] / "after"
    folder.mkdir()
    summary = run_job(_spec(assets, folder), folder / "job", segment_frames=SEGMENT, options=_options())
    assert summary.output is not None
    made = job_turnover(folder / "job", folder / "turnover", layer_format="png", options=RunOptions(progress=False))
    assert made.rendered == [0, 1, 2] and made.frames == 10
    _check_over(assets["clip"], summary.output, folder / "turnover" / "layer" / "face.%04d.png")
    manifest = json.loads(made.manifest.read_text())
    assert manifest["output"] == str(summary.output) and manifest["plate"]["path"] == str(assets["clip"])

    (folder / "turnover" / "matte" / "matte.0009.png").unlink()
    result = CliRunner().invoke(main, ["turnover", str(folder / "job"), "-o", str(folder / "turnover"),
                                       "--turnover-format", "png", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1 segments, 2 frames rendered" in result.output
    assert (folder / "turnover" / "matte" / "matte.0009.png").is_file()


def test_vidswap_turnover_renders_a_range_changed_since_again(assets: dict[str, Path]) -> None:
    folder = assets["folder"] / "changed"
    folder.mkdir()
    turnover = folder / "turnover"
    spec = _spec(assets, folder, **{"turnover.dir": str(turnover)})
    run_job(spec, folder / "job", segment_frames=SEGMENT, options=_options())
    assert job_turnover(folder / "job", turnover, options=RunOptions(progress=False)).rendered == []
    before = (turnover / "layer" / "face.0005.exr").read_bytes()
    # A range rendered again with another mask, without the turnover; then the turnover from the stored state.
    fixed = with_range_override(spec.model_copy(update={"turnover": None}), "4-7", {"mask.blur": 0.2})
    assert run_job(fixed, folder / "job", segment_frames=SEGMENT, options=_options()).rendered == [1]
    again = job_turnover(folder / "job", turnover, options=RunOptions(progress=False))
    assert again.rendered == [1]
    assert (turnover / "layer" / "face.0005.exr").read_bytes() != before


class _NoRender:
    """An executor that renders nothing: the job is made, its segments are left to farm nodes."""

    def render(self, job: Any, indices: Sequence[int], *, session: Any = None) -> list[Any]:
        return []


def test_the_farm_node_that_muxes_finishes_the_turnover(assets: dict[str, Path]) -> None:
    folder = assets["folder"] / "farm"
    folder.mkdir()
    turnover = folder / "turnover"
    spec = _spec(assets, folder, **{"turnover.dir": str(turnover)})
    made = run_job(spec, folder / "job", segment_frames=SEGMENT, executor=_NoRender(), options=_options())
    assert made.output is None
    assert render_slice(folder / "job", "0-1").output is None
    assert not (turnover / "manifest.json").exists()  # a node that does not mux leaves only its layers
    output = render_slice(folder / "job").output
    assert output is not None
    manifest = json.loads((turnover / "manifest.json").read_text())
    assert manifest["output"] == str(output) and manifest["frames"]["count"] == 10
    assert all((turnover / name).is_file() for name in manifest["files"])
    assert len(json.loads((turnover / "tracking.json").read_text())["frames"]) == 10
    assert "Merge2" in (turnover / "comp.nk").read_text() and "CornerPin2D" in (turnover / "tracking.nk").read_text()
    _check_over(assets["clip"], output, turnover / "layer" / "face.%04d.exr")
    # Its layers are recorded as current: the turnover afterwards renders nothing again.
    assert job_turnover(folder / "job", turnover, options=RunOptions(progress=False)).rendered == []
