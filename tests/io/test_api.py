"""The public names of vidswap.io: removing one breaks users, so it must be a decision."""

from __future__ import annotations

import doctest
import subprocess
import sys

import vidswap.io

PUBLIC = {
    "CODECS",
    "EncodeSettings",
    "ResolvedEncode",
    "encoder_available",
    "resolve_encode",
    "AudioInfo",
    "ColorInfo",
    "MediaInfo",
    "SubtitleInfo",
    "VideoInfo",
    "probe",
    "FrameRange",
    "parse_frame_range",
    "Frame",
    "VideoReader",
    "stored",
    "upright",
    "ImageSequenceWriter",
    "frames_from_timecode",
    "shift_timecode",
    "timecode_from_frames",
    "timecode_rate",
    "VideoWriter",
    "RangePts",
    "range_pts",
    "concat_segments",
}


def test_public_names() -> None:
    assert PUBLIC <= set(vidswap.io.__all__)
    assert all(hasattr(vidswap.io, name) for name in vidswap.io.__all__)


def test_ranges_and_timecodes_import_no_av() -> None:
    """Frame ranges are parsed by the CLI and the job spec before any video is opened."""
    code = "import sys, vidswap.io.ranges; print('av' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_docstring_examples() -> None:
    from vidswap.io import ranges, timecode

    for module in (timecode, ranges):
        assert doctest.testmod(module).failed == 0
