"""EXR header attributes added after FFmpeg's encoder (:mod:`vidswap.io.exr`): the file still decodes to
the same pixels in Debian's ffmpeg (the offset table shifted right), whatever the compression's chunk size."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests import oracle
from vidswap.io import exr


def _encode(rgba: np.ndarray, compression: str) -> bytes:
    context = av.CodecContext.create("exr", "w")
    context.width, context.height, context.pix_fmt = rgba.shape[1], rgba.shape[0], "gbrapf32le"
    context.time_base = Fraction(1, 25)
    context.options = {"format": "half", "compression": compression}
    frame = av.VideoFrame.from_ndarray(rgba, format="gbrapf32le")
    return b"".join(bytes(p) for p in context.encode(frame) + context.encode(None))


@pytest.mark.parametrize("compression", ["none", "rle", "zip1", "zip16"])
def test_added_attributes_keep_the_pixels(tmp_path: Path, compression: str) -> None:
    rng = np.random.default_rng(3)
    rgba = rng.random((37, 21, 4), dtype=np.float32)
    plain = _encode(rgba, compression)
    added = exr.with_attributes(plain, {"timeCode": ("timecode", exr.timecode_value("23:59:58;29")),
                                        "framesPerSecond": ("rational", exr.rational_value(Fraction(30000, 1001)))})
    (tmp_path / "plain.exr").write_bytes(plain)
    (tmp_path / "added.exr").write_bytes(added)
    assert np.array_equal(oracle.rgba_image(tmp_path / "added.exr"), oracle.rgba_image(tmp_path / "plain.exr"))
    header = oracle.exr_header(tmp_path / "added.exr")
    assert header["compression"][1][0] == {"none": 0, "rle": 1, "zip1": 2, "zip16": 3}[compression]
    packed, user = struct.unpack("<II", header["timeCode"][1])
    assert (packed, user) == (0x23595829 | 0x40, 0)  # BCD, drop-frame flag (bit 6)
    assert header["framesPerSecond"] == ("rational", struct.pack("<iI", 30000, 1001))
    assert exr.with_attributes(added, {"framesPerSecond": ("rational", exr.rational_value(Fraction(24)))}) == added
