"""Conformance of DNxHR output, judged by Debian's ffprobe (tests/oracle.py): a 10-bit 4:2:2 ProRes
plate rendered to dnxhd in .mov, streaming and as a job of small segments (in .mov: NUT cannot hold
DNxHD), is DNxHR HQX 10-bit 4:2:2 with the plate's colour tags, pixel aspect, timing and audio.
DNxHR frames are at least 256x120: the plate is that size, and a smaller one is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import oracle
from tests.conform.test_timing import assert_same_timing, make_spec, media, render, run_options  # noqa: F401
from vidswap.errors import MediaError
from vidswap.pipeline.runner import run_pipeline

COLOUR = ("color_primaries", "color_transfer", "color_space", "color_range")


@pytest.fixture(scope="module")
def clips(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:  # noqa: F811
    """The timing tests' clips, model and photo, and a ProRes 422 HQ plate of DNxHR's smallest size."""
    folder = tmp_path_factory.mktemp("dnxhd")
    return {**media, "plate": oracle.prores_hq_mov(folder / "plate.mov", size="256x120", seconds=0.8)}


@pytest.mark.parametrize("mode", ["stream", "job"])
def test_dnxhr_hqx_keeps_the_plate(clips: dict[str, Path], tmp_path: Path, mode: str) -> None:
    source, out = clips["plate"], tmp_path / "out.mov"
    render(mode, make_spec(clips, "plate", out, "dnxhd"), tmp_path)
    got, want = oracle.video(out), oracle.video(source)
    assert (got["codec_name"], got["profile"], got["pix_fmt"]) == ("dnxhd", "DNXHR HQX", "yuv422p10le")
    assert {key: got.get(key) for key in COLOUR} == {key: want.get(key) for key in COLOUR}
    assert got["sample_aspect_ratio"] == want["sample_aspect_ratio"] == "15:16"
    assert oracle.start_time(out) == 0
    assert oracle.frame_times(out) == oracle.frame_times(source)
    assert_same_timing(source, out)
    shape = lambda s: (s["codec_name"], s["sample_rate"], s["channels"])  # noqa: E731
    assert [shape(s) for s in oracle.audio(out)] == [shape(s) for s in oracle.audio(source)]


def test_frames_below_dnxhr_size_are_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "small.mov"
    with pytest.raises(MediaError, match=f"{out}: dnxhd encodes frames of at least 256x120, the input's are "
                                         "96x64") as info:
        run_pipeline(make_spec(clips, "prores", out, "dnxhd"), run_options())
    assert info.value.setting == "encode.codec" and not out.exists()
