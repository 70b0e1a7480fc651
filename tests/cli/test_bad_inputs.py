"""Messages that point the right way: a photo as the input, a folder as the input, a video as a
source photo, and an image too large to decode each give one ``error:`` line saying so."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from tests.cli.test_run import assert_one_error, invoke, media  # noqa: F401 (a fixture)
from vidswap.errors import MediaError
from vidswap.io.probe import probe
from vidswap.io.sequence import read_image


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says ``width`` x ``height`` (its data is one empty row: enough to probe)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))
    return path


def test_a_photo_as_the_input(media: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out.mp4"
    assert_one_error(invoke(media["photo"], "-s", media["photo"], "-o", out), "is a single image, not a video",
                     output=out)
    with pytest.raises(MediaError, match="is a single image, not a video"):
        probe(media["photo"])


def test_a_folder_as_the_input(media: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out.mp4"
    assert_one_error(invoke(tmp_path, "-s", media["photo"], "-o", out), "is a folder", output=out)


def test_a_video_as_the_source(media: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out.mp4"
    assert_one_error(invoke(media["clip"], "-s", media["clip"], "-o", out), "expected a photo", "shot.mp4",
                     output=out)


def test_an_image_too_large_to_decode(tmp_path: Path) -> None:
    path = _png_header(tmp_path / "huge.png", 20000, 20000)
    with pytest.raises(MediaError, match="a 20000x20000 image is larger than FFmpeg decodes"):
        read_image(path)
