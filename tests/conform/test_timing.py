"""Conformance of timing, judged by Debian's ffprobe (tests/oracle.py), never by vidswap's probe: in
every mode (streaming, job, range re-render of a job, farm render + mux) the output video starts where
the input's does, every frame keeps its pts, and every audio packet keeps its time (so the
audio-video offset is the input's), to the container's precision (Matroska: 1 ms); the matte of a
job has the video's pts.

The matrix covers every mode, container (mp4, mov, mkv) and codec family (x264 and x265 with
B-frames at their default presets, ProRes, FFV1) at least once, not their cross product.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests import oracle
from tests.io.media import frame_image
from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo
from vidswap.jobs.job import render_slice, run_job, with_range_override
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.runner import run_pipeline
from vidswap.pipeline.session import RunOptions

SEGMENT = 8
MODES = ("stream", "job", "range", "farm")
#: What each container's timestamps hold: Matroska counts milliseconds.
PRECISION = {".mkv": Fraction(1, 1000), ".mp4": Fraction(0), ".mov": Fraction(0)}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The oracle's clips (tiny), the tiny model and a source photo."""
    oracle.require_tools()
    folder = tmp_path_factory.mktemp("conform")
    small = {"size": "96x64", "seconds": 0.8}
    return {"h264": oracle.h264_bframes_mp4(folder / "h264.mp4", **small),
            "prores": oracle.prores_hq_mov(folder / "prores.mov", **small),
            "vfr": oracle.vfr_mkv(folder / "vfr.mkv", **small),
            "afirst": oracle.audio_first_mp4(folder / "afirst.mp4", **small),
            "tiny": make_tiny_model(folder / "tiny.safetensors"),
            "photo": write_photo(folder / "me.png", frame_image(3, 128, 128))}


def make_spec(media: dict[str, Path], clip: str, out: Path, codec: str, matte: Path | None = None,
              **options: Any) -> Any:
    """The pipeline of a render of ``clip`` to ``out`` with ``codec`` at its default preset."""
    extra = {"matte": str(matte)} if matte is not None else {}
    return pipeline_from_options({"input": str(media[clip]), "sources.me": [str(media["photo"])],
                                  "output.path": str(out), "model.path": str(media["tiny"]),
                                  "model.batch_size": 4, "encode.codec": codec, **extra, **options})


class _FirstFaces(StubDetector):
    """The stub's face in the first images it is shown only (the source photo, then the first frames):
    faces are swapped and the matte is not empty, at a fraction of the tiny model's CPU time."""

    def __init__(self, images: int = 6) -> None:
        super().__init__()
        self.left = images

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Any]]:
        found = super().detect(frames)
        kept = [faces if i < self.left else [] for i, faces in enumerate(found)]
        self.left = max(0, self.left - len(frames))
        return kept


def run_options() -> RunOptions:
    return RunOptions(progress=False, detector=_FirstFaces())


class _NoRender:
    """An executor that renders nothing: the job is made, its segments are left to farm nodes."""

    def render(self, job: Any, indices: Sequence[int], *, session: Any = None) -> list[Any]:
        return []


def render(mode: str, spec: Any, folder: Path) -> None:
    """Render ``spec`` in ``mode``: streaming; a job of small segments; a job and then a range
    re-render of some of its frames; or a job whose segments render as farm slices, the last muxing."""
    job = folder / "job"
    if mode == "stream":
        run_pipeline(spec, run_options())
    elif mode == "job":
        assert run_job(spec, job, segment_frames=SEGMENT, options=run_options()).output is not None
    elif mode == "range":
        run_job(spec, job, segment_frames=SEGMENT, options=run_options())
        fixed = with_range_override(spec, "5-9", {"mask.blur": 0.2})
        summary = run_job(fixed, job, options=run_options())
        assert summary.rendered == [0, 1] and summary.output is not None
    elif mode == "farm":
        made = run_job(spec, job, segment_frames=SEGMENT, executor=_NoRender(), options=run_options())
        assert made.output is None
        assert render_slice(job, "0-1").output is None
        assert render_slice(job).output is not None  # the node that finishes the last segment muxes
    else:
        raise AssertionError(mode)


def assert_close(got: Sequence[Fraction], want: Sequence[Fraction], precision: Fraction, what: str) -> None:
    assert len(got) == len(want), f"{what}: {len(got)} timestamps, the input has {len(want)}"
    worst = max((abs(a - b) for a, b in zip(got, want, strict=True)), default=Fraction(0))
    assert worst <= precision, f"{what}: off by up to {float(worst):.6f} s (container precision {float(precision)})"


def assert_same_timing(source: Path, out: Path) -> None:
    """Video start, every frame's pts, every audio packet's time (and so the offset) as the source's."""
    precision = PRECISION[out.suffix]
    assert abs(oracle.start_time(out) - oracle.start_time(source)) <= precision
    assert_close(oracle.frame_times(out), oracle.frame_times(source), precision, "video pts")
    for index, _ in enumerate(oracle.audio(source)):
        assert_close(oracle.packet_times(out, f"a:{index}"), oracle.packet_times(source, f"a:{index}"),
                     precision, f"audio {index} packet times")
    duration = lambda path: Fraction(oracle.ffprobe(path)["format"]["duration"])  # noqa: E731
    times = oracle.frame_times(source)
    assert abs(duration(out) - duration(source)) <= (times[-1] - times[-2]) + precision


CASES = [  # clip, mode, codec, container, matte
    ("h264", "stream", "libx264", ".mp4", None),
    ("h264", "job", "libx264", ".mp4", ".mkv"),  # the default render, with a matte video
    ("h264", "farm", "libx265", ".mkv", None),  # AAC priming beside Matroska
    ("prores", "range", "prores_ks", ".mov", ".mkv"),
    ("vfr", "farm", "ffv1", ".mkv", ".%04d.png"),  # an image-sequence matte
    ("vfr", "stream", "libx264", ".mkv", ".mkv"),
    ("afirst", "job", "libx265", ".mov", None),
]


@pytest.mark.parametrize(("clip", "mode", "codec", "suffix", "matte"), CASES,
                         ids=["-".join(str(v) for v in case if v) for case in CASES])
def test_timing_is_the_inputs(media: dict[str, Path], tmp_path: Path, clip: str, mode: str, codec: str,
                              suffix: str, matte: str | None) -> None:
    out = tmp_path / f"out{suffix}"
    matte_path = tmp_path / f"matte{matte}" if matte else None
    render(mode, make_spec(media, clip, out, codec, matte_path), tmp_path)
    assert_same_timing(media[clip], out)
    if matte_path is not None and matte_path.suffix == ".png":
        files = sorted(tmp_path.glob("matte.*.png"))
        assert [f.name for f in files] == [f"matte.{i:04d}.png" for i in range(len(oracle.frame_times(out)))]
    elif matte_path is not None:  # the matte's pts are the video's
        precision = max(PRECISION[out.suffix], PRECISION[matte_path.suffix])
        assert_close(oracle.frame_times(matte_path), oracle.frame_times(out), precision, "matte pts")
    assert not list(tmp_path.glob(".*vidswap-tmp*"))  # nothing half-written is left
