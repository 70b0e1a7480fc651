"""concat_segments: runs of a source's frames, each encoded on its own from its first frame (as a job
writes its segments), join without re-encoding into what one writer of the whole range writes;
range_pts: where a range lies in pts, for video files and image sequences."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tests.io.media import frame_image, stream_packets, video_times
from tests.io.test_writer import FAST, copy, decoded
from vidswap.errors import MediaError
from vidswap.io.concat import concat_segments
from vidswap.io.probe import probe
from vidswap.io.ranges import FrameRange
from vidswap.io.reader import VideoReader
from vidswap.io.sequence import ImageSequenceWriter
from vidswap.io.writer import VideoWriter, range_pts


def write_segment(source: Path, path: Path, frames: FrameRange) -> Path:
    """Encode ``frames`` of ``source`` on their own, video only, as a job writes a segment (``.nut``)."""
    with (
        VideoReader(source, frames=frames) as reader,
        VideoWriter(path, like=probe(source), frames=frames, settings=FAST, copy_streams=False) as writer,
    ):
        for frame in reader:
            writer.write(frame.pts, frame.rgb)
    return path


def join(source: Path, folder: Path, parts: list[FrameRange], frames: FrameRange, output: Path) -> None:
    files = [write_segment(source, folder / f"{i:05d}.nut", part) for i, part in enumerate(parts)]
    info = probe(source)
    concat_segments(files, parts, info=info, frames=frames.resolve(info.video.frame_count), output=output,
                    metadata={"comment": "joined"})


@pytest.mark.parametrize(
    ("clip", "cuts"),
    [("audio", (4, 12, 20)), ("audio", (0, 9, 24)), ("vfr", (6, 13, 17, 30)), ("hd_tagged", (5, 15, 23)),
     ("hevc_mp4", (0, 8, 24)), ("rotated_tc", (10, 16, 24)), ("prores", (3, 6, 9))],
)
def test_joined_segments_equal_one_writer(clips: dict[str, Path], tmp_path: Path, clip: str,
                                          cuts: tuple[int, ...]) -> None:
    source = clips[clip]
    frames = FrameRange(start=cuts[0], stop=cuts[-1])
    parts = [FrameRange(start=a, stop=b) for a, b in zip(cuts, cuts[1:], strict=False)]
    output, straight = tmp_path / f"joined{source.suffix}", tmp_path / f"straight{source.suffix}"
    join(source, tmp_path, parts, frames, output)
    copy(source, straight, frames=frames)
    assert video_times(output) == video_times(straight)  # every video pts
    assert stream_packets(output, "audio") == stream_packets(straight, "audio")  # byte for byte
    joined, one = probe(output), probe(straight)
    assert (joined.timecode, joined.video.rotation, joined.video.frame_count) == (
        one.timecode, one.video.rotation, one.video.frame_count)
    with av.open(str(output)) as container:
        assert {k.lower(): v for k, v in container.metadata.items()}["comment"] == "joined"
    for got, want in zip(decoded(output), decoded(straight), strict=True):
        assert np.abs(got - want).mean() < 3  # the same frames (each encoded once, lossy)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == source.suffix) == sorted(
        [output.name, straight.name])  # no temporary file left


def test_a_segment_short_of_its_frames_is_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    source = clips["audio"]
    files = [write_segment(source, tmp_path / "0.nut", FrameRange(start=0, stop=10)),
             write_segment(source, tmp_path / "1.nut", FrameRange(start=12, stop=24))]
    info = probe(source)
    output = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match="holds 12 frames, expected 14"):
        concat_segments(files, [FrameRange(start=0, stop=10), FrameRange(start=10, stop=24)], info=info,
                        frames=FrameRange(start=0, stop=24), output=output)
    assert not output.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["0.nut", "1.nut"]


def test_range_pts_of_a_video(clips: dict[str, Path]) -> None:
    info = probe(clips["vfr"])
    times = [round(t / info.video.time_base) for t in video_times(clips["vfr"])]
    part = range_pts(info, FrameRange(start=9, stop=22))
    assert (part.first, part.end, part.shift) == (times[9], times[22], times[9] - times[0])
    assert part.offset(15) == times[15] - times[9]
    whole = range_pts(info, FrameRange())
    assert (whole.end, whole.shift, whole.frame_pts) == (None, 0, ())  # nothing read
    assert range_pts(info, FrameRange(), frame_pts=True).offset(29) == times[29] - times[0]


def test_range_pts_of_an_image_sequence(tmp_path: Path) -> None:
    """Image sequences' pts are frame indices."""
    with ImageSequenceWriter(tmp_path / "s.%04d.png") as sequence:
        for index in range(6):
            sequence.write(frame_image(index, 32, 24))
    info = probe(tmp_path / "s.%04d.png")
    part = range_pts(info, FrameRange(start=2, stop=5))
    assert (part.first, part.end, part.shift, part.offset(4)) == (2, 5, 2, 2)
    assert range_pts(info, FrameRange(start=3)).end is None
