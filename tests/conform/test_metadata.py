"""Conformance of metadata, judged by Debian's ffprobe (tests/oracle.py): in every mode the output
keeps the input's colour tags (primaries, transfer, matrix, range), pixel aspect, field order,
timecode, stream order, creation time, stream languages and handler names; where the container has
no place for something (Matroska: per-stream creation time, and a pixel aspect FFV1 does not
carry), the run logs one warning line naming the file and what is lost."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests import oracle
from tests.conform.test_timing import make_spec, media, render  # noqa: F401  (media: the shared fixture)
from tests.io.media import make_clip

COLOUR = ("color_primaries", "color_transfer", "color_space", "color_range")


def _tags(entry: dict[str, Any]) -> dict[str, str]:
    """A stream's or the file's tags, keys lowercased (Matroska writes HANDLER_NAME, TIMECODE)."""
    return {key.lower(): value for key, value in entry.get("tags", {}).items()}


def _timecode(path: Path) -> str | None:
    """The start timecode wherever the container keeps it (the file's tags, a stream's, a tmcd track)."""
    probed = oracle.ffprobe(path)
    for entry in (probed["format"], *probed["streams"]):
        if "timecode" in _tags(entry):
            return _tags(entry)["timecode"]
    return None


@pytest.fixture(scope="module")
def clips(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:  # noqa: F811
    """The timing tests' clips, an interlaced one, and one with a display rotation (PyAV writes it:
    Debian's ffmpeg 5.1 has no option for it; ffprobe judges it all the same)."""
    folder = tmp_path_factory.mktemp("metadata")
    return {**media, "interlaced": oracle.interlaced_mp4(folder / "interlaced.mp4", size="96x64", seconds=0.8),
            "rotated": make_clip(folder / "rotated.mp4", frames=16, width=96, height=64, rotation=90,
                                 timecode="10:00:00:00")}


def _rotation(path: Path) -> int | None:
    found = [d["rotation"] for d in oracle.video(path).get("side_data_list", []) if "rotation" in d]
    return int(found[0]) if found else None


def _media_streams(path: Path) -> list[dict[str, Any]]:
    return [s for s in oracle.streams(path) if s["codec_type"] in ("video", "audio")]


CASES = [  # clip, mode, codec, container
    ("prores", "job", "prores_ks", ".mov"),
    ("prores", "job", "ffv1", ".mkv"),  # FFV1 segments (NUT) keep no colour tags: the mux must put them back
    ("prores", "farm", "libx264", ".mp4"),
    ("afirst", "job", "libx264", ".mp4"),
    ("afirst", "stream", "ffv1", ".mkv"),
    ("afirst", "range", "libx264", ".mov"),
    ("interlaced", "job", "libx264", ".mp4"),  # x264 codes the fields: H.264 says the order
    ("interlaced", "stream", "libx265", ".mp4"),  # progressive HEVC in MP4: the order is lost, logged
    ("interlaced", "farm", "libx265", ".mkv"),  # progressive HEVC, Matroska's field-order tag
    ("rotated", "job", "ffv1", ".mkv"),
    ("rotated", "stream", "libx264", ".mov"),
]


@pytest.mark.parametrize(("clip", "mode", "codec", "suffix"), CASES, ids=["-".join(case) for case in CASES])
def test_metadata_is_the_inputs(clips: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                clip: str, mode: str, codec: str, suffix: str) -> None:
    source, out = clips[clip], tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidswap"):
        render(mode, make_spec(clips, clip, out, codec), tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    got, want = oracle.video(out), oracle.video(source)
    for key in COLOUR:
        assert got.get(key) == want.get(key) or (key, want.get(key), got.get(key)) == (
            "color_range", None, "tv"), key  # FFmpeg's HEVC decoder reads no range tag as limited, as it is
    if want.get("field_order") and want["field_order"] != "progressive" and codec == "libx265" and suffix == ".mp4":
        assert any(str(out) in w and "field order (tff first) is lost" in w for w in warnings), warnings
    elif want.get("field_order"):
        assert got.get("field_order") == want["field_order"]
    assert _rotation(out) == _rotation(source)
    aspect = want.get("sample_aspect_ratio", "1:1")
    if suffix == ".mkv" and aspect != "1:1":  # Matroska's display size: PyAV cannot write it
        assert any(str(out) in w and f"pixel aspect {aspect}" in w for w in warnings), warnings
    else:
        assert got.get("sample_aspect_ratio", "1:1") == aspect
    assert _timecode(out) == _timecode(source)
    # Stream order, languages and handler names, stream by stream.
    mine, theirs = _media_streams(out), _media_streams(source)
    assert [s["codec_type"] for s in mine] == [s["codec_type"] for s in theirs]
    for a, b in zip(mine, theirs, strict=True):
        if _tags(b).get("language", "und") != "und":  # undetermined: some containers write no tag for it
            assert _tags(a).get("language") == _tags(b)["language"], a["codec_type"]
        if "handler_name" in _tags(b):
            assert _tags(a).get("handler_name") == _tags(b)["handler_name"], a["codec_type"]
        if "creation_time" in _tags(b) and suffix != ".mkv":
            assert _tags(a)["creation_time"] == _tags(b)["creation_time"]
    created = _tags(oracle.ffprobe(source)["format"]).get("creation_time")
    if created is not None:
        assert _tags(oracle.ffprobe(out)["format"])["creation_time"] == created
        if suffix == ".mkv":
            assert any(str(out) in w and "per-stream creation_time" in w for w in warnings), warnings
