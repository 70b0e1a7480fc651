"""The media table (vidswap.io.media): sequences of every image type it names are read and
written, frame numbers and order are kept, and each codec's containers really hold it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidswap.errors import ConfigError
from vidswap.io import VideoReader, media
from vidswap.io.codecs import EncodeSettings, resolve_encode
from vidswap.io.sequence import ImageSequenceWriter, probe_sequence, sequence_files

#: Mean error allowed reading back an 8-bit frame written as this type (lossy JPEG only).
TOLERANCE = {".jpg": 12, ".jpeg": 12}


def _image(index: int, height: int = 18, width: int = 26) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 9 + index * 20, y * 13, (x + y) * 5 + index], axis=-1)
    return (rgb % 256).astype(np.uint8)


def _write_with_pyav(path: Path, array: np.ndarray, source_format: str, codec: str, pix_fmt: str) -> None:
    """One image written by PyAV directly (as a plate from elsewhere would be)."""
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = array.shape[1], array.shape[0], pix_fmt
    context.time_base = Fraction(1, 24)
    frame = av.VideoFrame.from_ndarray(array, format=source_format)
    if pix_fmt != source_format:
        frame = frame.reformat(format=pix_fmt)
    path.write_bytes(b"".join(bytes(p) for p in context.encode(frame) + context.encode(None)))


class TestSequencePatterns:
    @pytest.mark.parametrize(
        ("name", "number", "expected"),
        [("a.%04d.png", 7, "a.0007.png"), ("a.####.exr", 12, "a.0012.exr"), ("a.%d.dpx", 5, "a.5.dpx"),
         ("a_##.tif", 123, "a_123.tif")],
    )
    def test_sequence_path(self, name: str, number: int, expected: str) -> None:
        assert media.sequence_path(Path("/x") / name, number) == Path("/x") / expected

    def test_is_sequence_pattern(self, tmp_path: Path) -> None:
        assert media.is_sequence_pattern("s.%04d.png") and media.is_sequence_pattern("s.####.exr")
        assert not media.is_sequence_pattern("s.png") and not media.is_sequence_pattern("a.%d.%d.png")
        take = tmp_path / "take#1.mov"
        take.write_bytes(b"x")
        assert not media.is_sequence_pattern(take)  # an existing file is a file

    def test_hashes_and_percent_match_the_same_files(self, tmp_path: Path) -> None:
        for name in ("p.0998.exr", "p.1001.exr", "p.10000.exr", "p.12.exr", "q.1001.exr"):
            (tmp_path / name).write_bytes(b"x")
        numbers = [n for n, _ in media.sequence_files(tmp_path / "p.####.exr")]
        assert numbers == [998, 1001, 10000]
        assert media.sequence_files(tmp_path / "p.%04d.exr") == media.sequence_files(tmp_path / "p.####.exr")
        assert [n for n, _ in media.sequence_files(tmp_path / "p.%d.exr")] == [12, 998, 1001, 10000]
        assert media.sequence_files(tmp_path / "missing" / "p.####.exr") == []

    def test_stem(self) -> None:
        assert media.sequence_stem("/a/sh010.%04d.exr") == "sh010"
        assert media.sequence_stem("/a/sh010_####.exr") == "sh010"


class TestEveryImageType:
    @pytest.mark.parametrize("suffix", sorted(media.IMAGE_SUFFIXES))
    @pytest.mark.parametrize("field", ["%04d", "####"])
    def test_written_then_read_in_order(self, tmp_path: Path, suffix: str, field: str) -> None:
        pattern = tmp_path / f"sh010.{field}{suffix}"
        images = [_image(i) for i in range(4)]
        with ImageSequenceWriter(pattern, start_number=1001) as writer:
            for image in images:
                writer.write(image)
        assert [n for n, _ in sequence_files(pattern)] == [1001, 1002, 1003, 1004]
        with VideoReader(pattern, rate=Fraction(24)) as reader:
            assert reader.info.video.codec == media.IMAGE_FORMATS[suffix].decoder
            frames = list(reader)
        assert [f.index for f in frames] == [0, 1, 2, 3]
        for frame, image in zip(frames, images, strict=True):
            assert frame.rgb.shape == image.shape and frame.rgb.dtype == np.uint8
            assert np.abs(frame.rgb.astype(int) - image).mean() <= TOLERANCE.get(suffix, 0)

    def test_deep_plates_from_elsewhere_are_read_rounded_to_8_bits(self, tmp_path: Path) -> None:
        image = _image(0)
        float_rgb = np.ascontiguousarray(image.astype(np.float32) / 255)
        for n in (1001, 1003, 1002):  # written out of order; read in number order
            _write_with_pyav(tmp_path / f"f.{n}.exr", float_rgb, "gbrpf32le", "exr", "gbrpf32le")
            _write_with_pyav(tmp_path / f"d.{n}.dpx", image.astype(np.uint16) * 257, "rgb48le", "dpx",
                             "gbrp10le")
            _write_with_pyav(tmp_path / f"p.{n}.png", image.astype(np.uint16) * 257, "rgb48be", "png",
                             "rgb48be")
        for pattern in ("f.####.exr", "d.%04d.dpx", "p.%04d.png"):
            with VideoReader(tmp_path / pattern) as reader:
                assert reader.info.sequence == tuple(tmp_path / pattern.replace("####", str(n))
                                                     .replace("%04d", str(n)) for n in (1001, 1002, 1003))
                for frame in reader:
                    assert np.abs(frame.rgb.astype(int) - image).max() <= 1, pattern

    def test_unknown_types_are_refused(self, tmp_path: Path) -> None:
        (tmp_path / "a.0001.gif").write_bytes(b"x")
        with pytest.raises(ConfigError, match=r"\.exr"):
            probe_sequence(tmp_path / "a.%04d.gif")
        with pytest.raises(ConfigError, match="image files are"):
            ImageSequenceWriter(tmp_path / "b.%04d.gif")


class TestCodecTable:
    @pytest.mark.parametrize("name", ["libx264", "libx265"])
    def test_unset_preset_and_crf_take_the_table_default(self, name: str) -> None:
        options = resolve_encode(EncodeSettings(codec=name), source_pix_fmt="yuv420p").options
        codec = media.VIDEO_CODECS[name]
        assert (options["preset"], options["crf"]) == (codec.preset, str(codec.crf))
        assert media.VIDEO_CODECS["libx264"].preset == "slow"
        assert EncodeSettings().codec == media.DEFAULT_CODEC

    @pytest.mark.parametrize("name", sorted(media.VIDEO_CODECS))
    def test_containers_hold_their_codec(self, tmp_path: Path, name: str) -> None:
        base = av.Codec(name, "w").name
        for suffix in media.VIDEO_CODECS[name].containers:
            with av.open(str(tmp_path / f"x{suffix}"), "w") as container:
                assert base in container.supported_codecs, (name, suffix)

    def test_auto_shares_what_all_picks_do(self) -> None:
        auto = media.codec_info(media.AUTO)
        for pick in media.AUTO_PICKS:
            assert set(auto.containers) <= set(media.VIDEO_CODECS[pick].containers)
            assert set(auto.bit_depths) <= set(media.VIDEO_CODECS[pick].bit_depths)
        assert media.CODEC_CHOICES[-1] == media.AUTO


def test_image_writes_do_not_depend_on_what_ran_before(tmp_path: Path) -> None:
    """FFmpeg's threaded EXR encoder gave other samples after OpenCV's thread pool had run (found
    when the faces tests ran before this file): images are encoded on one thread."""
    import cv2

    def written(name: str) -> bytes:
        with ImageSequenceWriter(tmp_path / f"{name}.%04d.exr", start_number=1) as writer:
            writer.write(_image(0))
        return (tmp_path / f"{name}.0001.exr").read_bytes()

    before = written("before")
    cv2.resize(np.zeros((720, 1280, 3), np.uint8), (640, 360), interpolation=cv2.INTER_AREA)
    assert written("after") == before
