"""EXIF orientation: photos read upright in all 8 orientations (PNG, JPEG, WebP, TIFF), a sideways
phone photo finds its face, image-sequence frames stay as stored. The EXIF blocks are written
here, byte by byte, into files that vidswap wrote without one."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import shared_media
from vidswap.io.exif import ORIENTATION_TAG, exif_orientation
from vidswap.io.reader import VideoReader, upright
from vidswap.io.sequence import probe_sequence, read_image, write_image

#: How a camera stores an upright picture for each orientation (the inverse of what the tag says
#: to do, written out on its own here).
STORE = {
    1: lambda u: u,
    2: lambda u: u[:, ::-1],
    3: lambda u: u[::-1, ::-1],
    4: lambda u: u[::-1],
    5: lambda u: u.transpose(1, 0, 2),
    6: lambda u: np.rot90(u, 1),  # the sensor's top is the picture's left side
    7: lambda u: np.rot90(u, 2).transpose(1, 0, 2),
    8: lambda u: np.rot90(u, -1),
}


def tiff_block(orientation: int, order: str = "<") -> bytes:
    """A TIFF structure whose first IFD holds one entry: the orientation."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    return magic + struct.pack(order + "IHHHIHHI", 8, 1, ORIENTATION_TAG, 3, 1, orientation, 0, 0)


def with_exif(path: Path, orientation: int, order: str = "<") -> Path:
    """Put an EXIF block holding ``orientation`` into the image file ``path`` (JPEG, PNG, WebP, TIFF)."""
    data, block = path.read_bytes(), tiff_block(orientation, order)
    if path.suffix == ".jpg":
        app1 = b"Exif\x00\x00" + block
        data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]
    elif path.suffix == ".png":
        ihdr_end = 8 + 12 + struct.unpack_from(">I", data, 8)[0]
        chunk = b"eXIf" + block
        data = data[:ihdr_end] + struct.pack(">I", len(block)) + chunk + struct.pack(">I", zlib.crc32(chunk)) \
            + data[ihdr_end:]
    elif path.suffix == ".webp":
        data = _webp_with_exif(data, block)
    elif path.suffix == ".tif":
        data = _tiff_with_orientation(data, orientation)
    else:
        raise AssertionError(path)
    path.write_bytes(data)
    return path


def _webp_with_exif(data: bytes, block: bytes) -> bytes:
    """A WebP in the extended format (``VP8X`` with the EXIF flag) with an ``EXIF`` chunk."""
    chunks, at = [], 12
    while at < len(data):
        kind, size = struct.unpack_from("<4sI", data, at)
        chunks.append((kind, data[at + 8:at + 8 + size]))
        at += 8 + size + (size & 1)
    if chunks[0][0] != b"VP8X":
        kind, payload = chunks[0]
        assert kind == b"VP8L", kind
        bits = int.from_bytes(payload[1:5], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        header = bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", header))
    chunks[0] = (b"VP8X", bytes([chunks[0][1][0] | 0x08]) + chunks[0][1][1:])
    chunks.append((b"EXIF", block))
    body = b"WEBP" + b"".join(kind + struct.pack("<I", len(p)) + p + b"\x00" * (len(p) & 1) for kind, p in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _tiff_with_orientation(data: bytes, orientation: int) -> bytes:
    """A TIFF file whose first IFD gains an orientation entry (a new IFD at the end)."""
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    entries = [data[ifd + 2 + 12 * i:ifd + 14 + 12 * i] for i in range(count)]
    entries.append(struct.pack(order + "HHIHH", ORIENTATION_TAG, 3, 1, orientation, 0))
    entries.sort(key=lambda entry: struct.unpack_from(order + "H", entry)[0])
    start = len(data) + (len(data) & 1)
    new = struct.pack(order + "H", len(entries)) + b"".join(entries) + struct.pack(order + "I", 0)
    data = data + b"\x00" * (start - len(data)) + new
    return data[:4] + struct.pack(order + "I", start) + data[8:]


@pytest.fixture(scope="module")
def photo(shared: Path) -> Path:
    return shared_media(shared, "photos", "obama.jpg")


@pytest.fixture(scope="module")
def small(photo: Path) -> np.ndarray:
    """The photo at a quarter size (not square: a turn shows in the shape)."""
    return np.ascontiguousarray(read_image(photo)[::4, ::4])


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("order", ["<", ">"])
def test_each_orientation_reads_upright(small: np.ndarray, tmp_path: Path, orientation: int, order: str) -> None:
    path = with_exif(write_image(tmp_path / "stored.png", STORE[orientation](small)), orientation, order)
    assert exif_orientation(path.read_bytes()) == orientation
    assert np.array_equal(read_image(path), small)
    assert np.array_equal(read_image(path, orient=False), STORE[orientation](small))


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif", ".jpg"])
@pytest.mark.parametrize("orientation", [3, 5, 6, 7, 8])
def test_each_file_type(small: np.ndarray, tmp_path: Path, suffix: str, orientation: int) -> None:
    plain = write_image(tmp_path / f"plain{suffix}", STORE[orientation](small))
    stored = read_image(plain)
    path = with_exif(write_image(tmp_path / f"stored{suffix}", STORE[orientation](small)), orientation)
    assert exif_orientation(path.read_bytes()) == orientation
    assert np.array_equal(read_image(path, orient=False), stored)
    if suffix == ".jpg":  # lossy: the stored pixels were encoded turned
        assert np.abs(read_image(path).astype(int) - small).mean() < 6  # a wrong turn or mirror: > 40
    else:
        assert np.array_equal(read_image(path), small)
    with av.open(str(path)) as container:
        angle = next(container.decode(video=0)).rotation
    if orientation in (3, 6, 8):  # FFmpeg reads the same turn (it has no angle for a mirror)
        assert np.array_equal(read_image(path), upright(stored, angle))


def test_sideways_phone_photo_finds_its_face(photo: Path, tmp_path: Path) -> None:
    from vidswap.faces.detect import DetectorConfig, create_detector

    original = read_image(photo)
    path = with_exif(write_image(tmp_path / "phone.png", STORE[6](original)), 6)
    assert np.array_equal(read_image(path), original)
    detector = create_detector(DetectorConfig(backend="yunet_onnx"))
    (want,), (got,) = detector.detect([original]), detector.detect([read_image(path)])
    assert len(got) == len(want) >= 1
    assert np.abs(got[0].landmarks - want[0].landmarks).max() < 1e-3 * want[0].size
    sideways = detector.detect([read_image(path, orient=False)])[0]
    assert not sideways or sideways[0].score < want[0].score  # stored sideways: no face, or a worse one


def test_no_exif_or_a_bad_one_reads_as_stored(small: np.ndarray, tmp_path: Path) -> None:
    path = write_image(tmp_path / "plain.png", small)
    assert exif_orientation(path.read_bytes()) == 1 and np.array_equal(read_image(path), small)
    assert exif_orientation(tiff_block(9)) == 1  # out of range
    assert exif_orientation(tiff_block(6)[:12]) == 1  # cut short
    assert exif_orientation(b"not an image") == 1


def test_sequence_frames_stay_as_stored(small: np.ndarray, tmp_path: Path) -> None:
    """A plate is stored as meant: a tag on its files turns neither its frames nor its size."""
    for i in range(3):
        with_exif(write_image(tmp_path / f"plate.{i:04d}.png", small), 6)
    pattern = tmp_path / "plate.%04d.png"
    assert (probe_sequence(pattern).video.height, probe_sequence(pattern).video.width) == small.shape[:2]
    with VideoReader(pattern) as reader:
        assert all(np.array_equal(frame.rgb, small) for frame in reader)
