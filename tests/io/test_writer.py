"""VideoWriter: pass-through and range copies keep timing, audio, subtitles, rotation, colour,
timecode; overwrite rules; atomic output; matte writer; encoder settings."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.io.media import stream_packets, video_times
from vidswap.errors import ConfigError, InputError, MediaError, OutputExistsError
from vidswap.io.codecs import EncodeSettings
from vidswap.io.probe import probe
from vidswap.io.ranges import FrameRange
from vidswap.io.reader import VideoReader
from vidswap.io.timecode import shift_timecode
from vidswap.io.writer import VideoWriter

FAST = EncodeSettings(codec="libx264", preset="ultrafast")


def copy(
    source: Path, output: Path, *, frames: FrameRange | None = None, settings: EncodeSettings = FAST, **kwargs
) -> VideoWriter:
    """Read ``source`` (or a range of it) and write it back unchanged through the writer."""
    with (
        VideoReader(source, frames=frames) as reader,
        VideoWriter(output, like=reader, frames=frames, settings=settings, **kwargs) as writer,
    ):
        for frame in reader:
            writer.write(frame.pts, frame.rgb)
    return writer


def decoded(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [frame.rgb.astype(np.int16) for frame in reader]


def assert_same_metadata(source: Path, output: Path) -> None:
    a, b = probe(source), probe(output)
    assert b.video.frame_count == a.video.frame_count
    assert (b.video.width, b.video.height, b.video.rotation) == (
        a.video.width,
        a.video.height,
        a.video.rotation,
    )
    # x264 writes no range flag for limited range when the other tags are unspecified (H.264's
    # default): "unspecified" and "limited" are the same for YUV video.
    assert replace(b.video.color, range=b.video.color.range or 1) == replace(
        a.video.color, range=a.video.color.range or 1
    )
    assert b.timecode == a.timecode
    assert [(t.codec, t.language) for t in b.audio] == [(t.codec, t.language) for t in a.audio]
    assert [(t.codec, t.language) for t in b.subtitles] == [(t.codec, t.language) for t in a.subtitles]


def assert_audio_copied(output: Path, expected: list[tuple[Fraction, bytes]]) -> None:
    """The output's audio packets are ``expected``, byte for byte, each within 1 ms of its time.

    MP4/MOV place a track's late start with an edit list counted in milliseconds, and hold no
    pts-dts offset for audio, so times can move by less than a millisecond; the bytes cannot.
    """
    got = stream_packets(output, "audio")
    assert [data for _, data in got] == [data for _, data in expected]
    assert all(abs(a - b) <= Fraction(1, 1000) for (a, _), (b, _) in zip(got, expected, strict=True))


class TestPassThrough:
    @pytest.mark.parametrize(
        "clip", ["audio", "vfr", "rotated_tc", "odd", "ten_bit_mkv", "hevc_mp4", "prores", "hd_tagged"]
    )
    def test_keeps_everything(self, clips: dict[str, Path], tmp_path: Path, clip: str) -> None:
        source = clips[clip]
        suffix = ".mov" if clip == "prores" else source.suffix
        output = tmp_path / f"out{suffix}"
        writer = copy(source, output)
        assert writer.dropped == []
        assert_same_metadata(source, output)
        assert video_times(output) == video_times(source)  # every pts, VFR included
        assert stream_packets(output, "audio") == stream_packets(source, "audio")  # byte for byte
        assert stream_packets(output, "subtitle") == stream_packets(source, "subtitle")
        assert probe(output).video.bit_depth == probe(source).video.bit_depth  # 10-bit stays 10-bit
        for got, want in zip(decoded(output), decoded(source), strict=True):
            assert np.abs(got - want).mean() < 3

    def test_prores_keeps_colour_tags(self, clips: dict[str, Path], tmp_path: Path) -> None:
        """prores_ks ignores the codec context's tags; the writer sets them on every frame."""
        output = tmp_path / "out.mov"
        copy(clips["prores"], output, settings=EncodeSettings(codec="prores_ks"))
        info = probe(output)
        assert info.video.codec == "prores" and info.video.color == probe(clips["prores"]).video.color
        assert info.timecode == "00:59:59;28"
        assert video_times(output) == video_times(clips["prores"])

    def test_lossless_ffv1(self, clips: dict[str, Path], tmp_path: Path) -> None:
        output = tmp_path / "out.mkv"
        copy(clips["odd"], output, settings=EncodeSettings(codec="ffv1"))
        assert probe(output).video.pix_fmt == "yuv444p"
        for got, want in zip(decoded(output), decoded(clips["odd"]), strict=True):
            assert np.abs(got - want).max() <= 2  # only RGB<->YUV rounding

    def test_subtitles_the_container_cannot_hold_are_reported(
        self, clips: dict[str, Path], tmp_path: Path
    ) -> None:
        writer = copy(clips["ten_bit_mkv"], tmp_path / "out.mp4")
        assert len(writer.dropped) == 1 and "srt" in writer.dropped[0]
        assert stream_packets(tmp_path / "out.mp4", "audio") == stream_packets(clips["ten_bit_mkv"], "audio")


class TestRangeCopy:
    @pytest.mark.parametrize(
        ("clip", "start", "stop"),
        [("audio", 5, 15), ("vfr", 9, 22), ("rotated_tc", 10, 24), ("prores", 3, 9), ("hd_tagged", 0, 12),
         ("ten_bit_mkv", 7, 20), ("hevc_mp4", 17, 24)],
    )
    def test_keeps_the_frames_asked_for(
        self, clips: dict[str, Path], tmp_path: Path, clip: str, start: int, stop: int
    ) -> None:
        source = clips[clip]
        output = tmp_path / f"range{'.mov' if clip == 'prores' else source.suffix}"
        frames = FrameRange(start=start, stop=stop)
        copy(source, output, frames=frames)
        # Each output frame is the source frame it should be (nearest of all source frames).
        originals = decoded(source)
        result = decoded(output)
        assert len(result) == stop - start
        for offset, image in enumerate(result):
            errors = [np.abs(image - original).mean() for original in originals]
            assert int(np.argmin(errors)) == start + offset
        # Timestamps move by one amount: the range starts where the source starts.
        times = video_times(source)
        shift = times[start] - times[0]
        assert video_times(output) == [t - shift for t in times[start:stop]]
        # The timecode is the first written frame's.
        info = probe(source)
        if info.timecode:
            assert probe(output).timecode == shift_timecode(info.timecode, start, info.timecode_rate)
        # Audio: exactly the packets in the range, byte for byte, moved with the video.
        end = times[stop] if stop < len(times) else None
        expected = [
            (t - shift, data)
            for t, data in stream_packets(source, "audio")
            if (start == 0 or t >= times[start]) and (end is None or t < end)
        ]
        assert expected
        assert_audio_copied(output, expected)

    def test_timecode_of_a_range(self, clips: dict[str, Path], tmp_path: Path) -> None:
        output = tmp_path / "range.mov"
        copy(clips["rotated_tc"], output, frames=FrameRange(start=12, stop=20))
        assert probe(output).timecode == "01:00:00:12"


class TestOutputRules:
    def test_refuses_existing_output(self, clips: dict[str, Path], tmp_path: Path) -> None:
        output = tmp_path / "out.mp4"
        output.write_bytes(b"keep me")
        with pytest.raises(OutputExistsError, match="overwrite"):
            VideoWriter(output, like=probe(clips["audio"]))
        assert output.read_bytes() == b"keep me"
        copy(clips["audio"], output, overwrite=True)
        assert probe(output).video.frame_count == 24

    def test_refuses_its_own_input_even_with_overwrite(self, clips: dict[str, Path]) -> None:
        with pytest.raises(OutputExistsError, match="is the input"):
            VideoWriter(clips["audio"], like=probe(clips["audio"]), overwrite=True)

    def test_missing_folder(self, clips: dict[str, Path], tmp_path: Path) -> None:
        with pytest.raises(InputError, match="does not exist"):
            VideoWriter(tmp_path / "no" / "out.mp4", like=probe(clips["audio"]))

    def test_error_leaves_nothing(self, clips: dict[str, Path], tmp_path: Path) -> None:
        output = tmp_path / "out.mp4"
        with pytest.raises(RuntimeError, match="boom"):
            with (
                VideoReader(clips["audio"]) as reader,
                VideoWriter(output, like=reader, settings=FAST) as writer,
            ):
                for frame in reader:
                    writer.write(frame.pts, frame.rgb)
                    if frame.index == 10:
                        raise RuntimeError("boom")
        assert list(tmp_path.iterdir()) == []

    def test_temporary_file_until_closed(self, clips: dict[str, Path], tmp_path: Path) -> None:
        output = tmp_path / "out.mkv"
        info = probe(clips["hd_tagged"])
        writer = VideoWriter(output, like=info, settings=FAST)
        with VideoReader(clips["hd_tagged"]) as reader:
            for frame in reader:
                writer.write(frame.pts, frame.rgb)
        assert not output.exists() and len(list(tmp_path.iterdir())) == 1
        writer.close()
        assert [p.name for p in tmp_path.iterdir()] == ["out.mkv"]

    def test_nothing_written(self, clips: dict[str, Path], tmp_path: Path) -> None:
        with pytest.raises(MediaError, match="no frame"):
            with VideoWriter(tmp_path / "out.mp4", like=probe(clips["audio"]), settings=FAST):
                pass
        assert list(tmp_path.iterdir()) == []

    def test_write_after_close_is_refused(self, clips: dict[str, Path], tmp_path: Path) -> None:
        writer = copy(clips["audio"], tmp_path / "out.mp4")
        with pytest.raises(ConfigError, match="writer is closed"):
            writer.write(10**9, np.zeros((48, 64, 3), np.uint8))
        assert probe(tmp_path / "out.mp4").video.frame_count == 24


class TestWrite:
    def test_exceptions(self, clips: dict[str, Path], tmp_path: Path) -> None:
        info = probe(clips["audio"])
        writer = VideoWriter(tmp_path / "out.mp4", like=info, settings=FAST)
        try:
            with pytest.raises(ConfigError, match=r"\(48, 64, 3\)"):
                writer.write(0, np.zeros((10, 10, 3), np.uint8))
            writer.write(1000, np.zeros((48, 64, 3), np.uint8))
            with pytest.raises(ConfigError, match="presentation order"):
                writer.write(1000, np.zeros((48, 64, 3), np.uint8))
        finally:
            writer.abort()
        assert list(tmp_path.iterdir()) == []

    def test_container_refuses_codec(self, clips: dict[str, Path], tmp_path: Path) -> None:
        with pytest.raises(MediaError, match=".mov or .mkv"):
            VideoWriter(
                tmp_path / "out.mp4", like=probe(clips["audio"]), settings=EncodeSettings(codec="prores_ks")
            )
        assert list(tmp_path.iterdir()) == []

    def test_matte_writer_reuses_timing(self, clips: dict[str, Path], tmp_path: Path) -> None:
        source = clips["vfr"]
        frames = FrameRange(start=4, stop=20)
        with (
            VideoReader(source, frames=frames) as reader,
            VideoWriter(tmp_path / "out.mp4", like=reader, frames=frames, settings=FAST) as video,
            VideoWriter(
                tmp_path / "matte.mkv",
                like=reader,
                frames=frames,
                settings=EncodeSettings.matte(),
                copy_streams=False,
            ) as matte,
        ):
            for frame in reader:
                video.write(frame.pts, frame.rgb)
                matte.write(frame.pts, np.full(frame.rgb.shape[:2], frame.index * 10, np.uint8))
        info = probe(tmp_path / "matte.mkv")
        assert info.video.pix_fmt == "gray" and info.audio == ()
        times = video_times(tmp_path / "out.mp4")
        matte_times = video_times(tmp_path / "matte.mkv")
        assert matte_times == [round(t, 3) for t in times]  # Matroska stores milliseconds
        with VideoReader(tmp_path / "matte.mkv") as reader:
            assert [int(f.rgb[0, 0, 0]) for f in reader] == [i * 10 for i in range(4, 20)]

    def test_upright_frames_are_turned_back(self, clips: dict[str, Path], tmp_path: Path) -> None:
        output = tmp_path / "out.mov"
        with (
            VideoReader(clips["rotated_tc"], turn_upright=True) as reader,
            VideoWriter(output, like=reader, settings=FAST, turn_upright=True) as writer,
        ):
            for frame in reader:
                writer.write(frame.pts, frame.rgb)
        assert probe(output).video.rotation == 90
        for got, want in zip(decoded(output), decoded(clips["rotated_tc"]), strict=True):
            assert np.abs(got - want).mean() < 3


def test_sequence_to_video(tmp_path: Path) -> None:
    from tests.io.media import frame_image
    from vidswap.io.sequence import ImageSequenceWriter

    with ImageSequenceWriter(tmp_path / "s.%04d.png") as sequence:
        for i in range(6):
            sequence.write(frame_image(i, 32, 24))
    copy(tmp_path / "s.%04d.png", tmp_path / "out.mp4", frames=FrameRange(start=2))
    assert video_times(tmp_path / "out.mp4") == [Fraction(i, 24) for i in range(4)]
