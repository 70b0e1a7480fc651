"""VideoReader: frames, timestamps, exact seeks, bounded queue, rotation, sequences, errors."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.io.media import frame_image, make_clip, video_times
from vidswap.errors import ConfigError, MediaError
from vidswap.io.ranges import FrameRange
from vidswap.io.reader import Frame, VideoReader, stored, upright


def _read(path: Path, **kwargs) -> tuple[VideoReader, list[Frame]]:
    with VideoReader(path, **kwargs) as reader:
        return reader, list(reader)


class TestVideoReader:
    def test_smoke(self, clips: dict[str, Path]) -> None:
        reader, frames = _read(clips["audio"])
        assert [f.index for f in frames] == list(range(24))
        assert all(f.rgb.shape == (48, 64, 3) and f.rgb.dtype == np.uint8 for f in frames)
        # Each decoded frame is closest to the picture that was encoded for it.
        for frame in frames:
            errors = [np.abs(frame.rgb.astype(int) - frame_image(i, 64, 48)).mean() for i in range(24)]
            assert int(np.argmin(errors)) == frame.index and errors[frame.index] < 6

    def test_timestamps(self, clips: dict[str, Path]) -> None:
        _, frames = _read(clips["vfr"])
        times = video_times(clips["vfr"])
        assert [Fraction(f.pts, 90000) for f in frames] == times
        assert [f.time for f in frames] == pytest.approx([float(t) for t in times])

    @pytest.mark.parametrize("clip", ["audio", "vfr", "ten_bit_mkv", "prores"])
    @pytest.mark.parametrize("start", [1, 9, 17])
    def test_seek_lands_on_exact_frame(self, clips: dict[str, Path], clip: str, start: int) -> None:
        _, sequential = _read(clips[clip])
        reader, ranged = _read(clips[clip], frames=FrameRange(start=start, stop=start + 4))
        assert [f.index for f in ranged] == list(range(start, start + 4))
        for got, want in zip(ranged, sequential[start : start + 4], strict=True):
            assert got.pts == want.pts and np.array_equal(got.rgb, want.rgb)
        # Past the first key-frame interval (8 frames) the seek skips decoding from frame 0;
        # ProRes frames are all key frames, so nothing is decoded in vain.
        assert reader.skipped < start if start >= 8 else reader.skipped <= start
        if clip == "prores":
            assert reader.skipped == 0

    def test_ten_bit_is_converted_to_8_bit_rgb(self, clips: dict[str, Path]) -> None:
        _, frames = _read(clips["ten_bit_mkv"], frames=FrameRange(stop=1))
        assert frames[0].rgb.dtype == np.uint8
        assert np.abs(frames[0].rgb.astype(int) - frame_image(0, 64, 48)).mean() < 6

    def test_colour_matrix_of_source_is_used(self, clips: dict[str, Path]) -> None:
        """The BT.2020-tagged clip decodes to the colours encoded with that matrix (not BT.601's)."""
        _, frames = _read(clips["hd_tagged"], frames=FrameRange(stop=1))
        assert np.abs(frames[0].rgb.astype(int) - frame_image(0, 64, 48)).mean() < 6

    def test_bounded_queue_and_early_close(self, clips: dict[str, Path]) -> None:
        reader = VideoReader(clips["audio"], queue_size=2)
        iterator = iter(reader)
        first = next(iterator)
        assert first.index == 0
        reader.close()
        assert not [t for t in threading.enumerate() if t.name == "vidswap-decode"]

    def test_turn_upright(self, clips: dict[str, Path]) -> None:
        _, frames = _read(clips["rotated_tc"], frames=FrameRange(stop=1), turn_upright=True)
        assert frames[0].rgb.shape == (64, 48, 3)

    def test_odd_size(self, clips: dict[str, Path]) -> None:
        _, frames = _read(clips["odd"])
        assert len(frames) == 12 and frames[0].rgb.shape == (361, 641, 3)

    def test_exceptions(self, clips: dict[str, Path]) -> None:
        with pytest.raises(ConfigError, match="has 24 frames"):
            VideoReader(clips["audio"], frames=FrameRange(start=30))
        with pytest.raises(ConfigError, match="queue_size"):
            VideoReader(clips["audio"], queue_size=0)
        reader = VideoReader(clips["audio"], frames=FrameRange(stop=1))
        list(reader)
        with pytest.raises(MediaError, match="iterated once"):
            list(reader)

    def test_decode_error_reaches_the_consumer(self, tmp_path: Path) -> None:
        path = make_clip(tmp_path / "short.mkv", frames=10, audio=False)
        reader = VideoReader(path)
        # Pretend the header promised more frames than the stream holds (a cut file).
        object.__setattr__(reader.info.video, "frame_count", 12)
        reader.frames = FrameRange(start=0, stop=12)
        with pytest.raises(MediaError, match="ended after 10"):
            list(reader)


class TestUprightStored:
    @pytest.mark.parametrize("rotation", [0, 90, 180, 270, -90])
    def test_inverse(self, rotation: int) -> None:
        image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
        assert np.array_equal(stored(upright(image, rotation), rotation), image)

    def test_known_answer(self) -> None:
        image = np.array([[[1], [2]], [[3], [4]]], dtype=np.uint8)
        # 90 degrees counter-clockwise: the right column becomes the top row.
        assert upright(image, 90)[..., 0].tolist() == [[2, 4], [1, 3]]


class TestImageSequences:
    @pytest.mark.parametrize("extension", ["png", "jpg", "tif"])
    def test_write_then_read(self, tmp_path: Path, extension: str) -> None:
        from vidswap.io.sequence import ImageSequenceWriter

        pattern = tmp_path / f"shot.%04d.{extension}"
        images = [frame_image(i, 33, 21) for i in range(5)]
        with ImageSequenceWriter(pattern, start_number=1001) as writer:
            for image in images:
                writer.write(image)
        assert (tmp_path / f"shot.1001.{extension}").is_file()
        _, frames = _read(pattern, frames=FrameRange(start=1, stop=4))
        assert [f.index for f in frames] == [1, 2, 3]
        tolerance = 12 if extension == "jpg" else 0
        for frame in frames:
            assert np.abs(frame.rgb.astype(int) - images[frame.index]).mean() <= tolerance

    def test_exceptions(self, tmp_path: Path) -> None:
        from vidswap.errors import InputError, OutputExistsError
        from vidswap.io.sequence import ImageSequenceWriter

        with pytest.raises(InputError, match="no file matches"):
            VideoReader(tmp_path / "none.%04d.png")
        with pytest.raises(ConfigError, match="%04d"):
            ImageSequenceWriter(tmp_path / "plain.png")
        with ImageSequenceWriter(tmp_path / "a.%02d.png") as writer:
            writer.write(frame_image(0, 8, 8))
        with pytest.raises(OutputExistsError, match="overwrite"):
            ImageSequenceWriter(tmp_path / "a.%02d.png")
        with pytest.raises(ConfigError, match="uint8, uint16 or float32 RGB"):
            ImageSequenceWriter(tmp_path / "b.%02d.png").write(np.zeros((8, 8), np.uint8))
