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


def _media_streams(path: Path) -> list[dict[str, Any]]:
    return [s for s in oracle.streams(path) if s["codec_type"] in ("video", "audio")]


CASES = [  # clip, mode, codec, container
    ("prores", "job", "prores_ks", ".mov"),
    ("prores", "job", "ffv1", ".mkv"),  # FFV1 segments (NUT) keep no colour tags: the mux must put them back
    ("prores", "farm", "libx264", ".mp4"),
    ("afirst", "job", "libx264", ".mp4"),
    ("afirst", "stream", "ffv1", ".mkv"),
    ("afirst", "range", "libx264", ".mov"),
]


@pytest.mark.parametrize(("clip", "mode", "codec", "suffix"), CASES, ids=["-".join(case) for case in CASES])
def test_metadata_is_the_inputs(media: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture,  # noqa: F811
                                clip: str, mode: str, codec: str, suffix: str) -> None:
    source, out = media[clip], tmp_path / f"out{suffix}"
    with caplog.at_level(logging.WARNING, logger="vidswap"):
        render(mode, make_spec(media, clip, out, codec), tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    got, want = oracle.video(out), oracle.video(source)
    for key in COLOUR:
        assert got.get(key) == want.get(key), key
    if want.get("field_order"):
        assert got.get("field_order") == want["field_order"]
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
        for key in ("language", "handler_name"):
            if key in _tags(b):
                assert _tags(a).get(key) == _tags(b)[key], (a["codec_type"], key)
        if "creation_time" in _tags(b) and suffix != ".mkv":
            assert _tags(a)["creation_time"] == _tags(b)["creation_time"]
    created = _tags(oracle.ffprobe(source)["format"]).get("creation_time")
    if created is not None:
        assert _tags(oracle.ffprobe(out)["format"])["creation_time"] == created
        if suffix == ".mkv":
            assert any(str(out) in w and "per-stream creation_time" in w for w in warnings), warnings
