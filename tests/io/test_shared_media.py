"""Pass-through, range copies and seeks on the real clips of ``../shared/media/videos``.

Skipped when the shared media are absent. Copies take the first 60 frames of each clip (full
copies of two short clips), so the run stays short.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.io.media import stream_packets, video_times
from tests.io.test_writer import FAST, assert_audio_copied, copy, decoded
from vidswap.io.probe import probe
from vidswap.io.ranges import FrameRange
from vidswap.io.reader import VideoReader

CLIPS = [
    "hamilton_short.mp4",
    "talking_woman.mp4",
    "glasses_pen.mp4",
    "man_neutral.mp4",
    "crowd_1080p.mp4",
    "dance_hands.mp4",
    "singer_720p.mp4",
]


@pytest.fixture(scope="module")
def videos(shared: Path) -> Path:
    folder = shared / "media" / "videos"
    if not folder.is_dir():
        pytest.skip(f"needs the shared clips in {folder} (see shared/media/MANIFEST.md)")
    return folder


def _clip(videos: Path, name: str) -> Path:
    path = videos / name
    if not path.is_file():
        pytest.skip(f"needs {path} (see shared/media/MANIFEST.md)")
    return path


def _check_copy(source: Path, output: Path, frames: FrameRange) -> None:
    a, b = probe(source), probe(output)
    count = (frames.stop or a.video.frame_count) - frames.start
    assert b.video.frame_count == count
    assert (b.video.width, b.video.height, b.video.rotation, b.timecode) == (
        a.video.width,
        a.video.height,
        a.video.rotation,
        a.timecode,
    )
    assert b.video.color == a.video.color
    times = video_times(source)
    assert video_times(output) == times[frames.start : frames.start + count]
    end = times[frames.stop] if frames.stop is not None and frames.stop < len(times) else None
    expected = [p for p in stream_packets(source, "audio") if end is None or p[0] < end]
    assert_audio_copied(output, expected)


@pytest.mark.parametrize("name", CLIPS)
def test_first_60_frames(videos: Path, tmp_path: Path, name: str) -> None:
    source = _clip(videos, name)
    frames = FrameRange(stop=60)
    copy(source, tmp_path / "out.mp4", frames=frames)
    _check_copy(source, tmp_path / "out.mp4", frames)


@pytest.mark.parametrize("name", ["man_neutral.mp4", "dance_hands.mp4"])
def test_full_copy(videos: Path, tmp_path: Path, name: str) -> None:
    source = _clip(videos, name)
    copy(source, tmp_path / "out.mp4")
    _check_copy(source, tmp_path / "out.mp4", FrameRange())
    for got, want in zip(decoded(tmp_path / "out.mp4"), decoded(source), strict=True):
        assert np.abs(got - want).mean() < 3


def test_seek_and_range_copy(videos: Path, tmp_path: Path) -> None:
    """hamilton_short: frames 200-229 straddle the cut to the audience at ~211."""
    source = _clip(videos, "hamilton_short.mp4")
    with VideoReader(source) as reader:
        sequential = [f for f in reader if 200 <= f.index < 230]
    frames = FrameRange(start=200, stop=230)
    with VideoReader(source, frames=frames) as reader:
        ranged = list(reader)
    assert reader.skipped < 200
    assert [(f.index, f.pts) for f in ranged] == [(f.index, f.pts) for f in sequential]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(ranged, sequential, strict=True))
    output = tmp_path / "range.mp4"
    copy(source, output, frames=frames, settings=FAST)
    result = decoded(output)
    assert len(result) == 30
    for image, original in zip(result, ranged, strict=True):
        assert np.abs(image - original.rgb.astype(np.int16)).mean() < 3
