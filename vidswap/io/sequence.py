"""Image sequences (``shot.%04d.png``, ``plate.####.exr``) as input and output.

A sequence is a pattern with one frame-number field (:mod:`vidswap.io.media`); its frames are
the files that match, in number order (gaps allowed). Frame ``i`` of the sequence is the
``i``-th file; its pts is ``i`` in a ``1/rate`` time base. Frames are read and written as stored
(an EXIF orientation tag is not applied: plates are stored as meant, and a sequence has no rotation
to keep); single photos are read upright (:func:`read_image`).
"""

from __future__ import annotations

import os
import struct
import uuid
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidswap.errors import ConfigError, InputError, MediaError, OutputExistsError
from vidswap.io import exif, media
from vidswap.io.codecs import video_encoder
from vidswap.io.probe import ColorInfo, MediaInfo, VideoInfo

__all__ = ["sequence_files", "probe_sequence", "read_image", "write_image", "ImageSequenceWriter"]


def _check(pattern: str | Path) -> Path:
    """The pattern, checked: one frame-number field and an image type vidswap handles."""
    pattern = Path(pattern)
    if not media.is_sequence_pattern(pattern):
        raise ConfigError(
            f"{pattern}: an image sequence needs one frame-number field like %04d or #### in its file name"
        )
    _image_format(pattern)
    return pattern


def _image_format(path: Path) -> media.ImageFormat:
    found = media.IMAGE_FORMATS.get(path.suffix.lower())
    if found is None:
        raise ConfigError(f"{path}: image files are {', '.join(sorted(media.IMAGE_SUFFIXES))}, "
                          f"got {path.suffix or 'no extension'!r}")
    return found


def sequence_files(pattern: str | Path) -> list[tuple[int, Path]]:
    """The files of a sequence as ``(frame number, path)``, sorted by number.

    Raises:
        ConfigError: the pattern has no single frame-number field or is not an image type.
        InputError: its folder does not exist.
    """
    pattern = _check(pattern)
    if not pattern.parent.is_dir():
        raise InputError(f"{pattern}: folder {pattern.parent} does not exist")
    return media.sequence_files(pattern)


#: FFmpeg refuses frames of more pixels than this (``av_image_check_size``: w * h * 8 < INT_MAX).
_MAX_PIXELS = (2**31 - 1) // 8


def _header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's SOF header, for an image FFmpeg would not
    open (it reports no size then); None for other files."""
    with open(path, "rb") as file:
        data = file.read(1 << 16)
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    at = 2 if data.startswith(b"\xff\xd8") else len(data)
    while at + 9 <= len(data) and data[at] == 0xFF:
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    return None


def read_image(path: Path, *, orient: bool = True) -> np.ndarray:
    """One image file as ``(H, W, 3)`` uint8 RGB (16-bit images are rounded to 8 bits).

    Args:
        path: the image file.
        orient: turn the pixels upright as the file's EXIF orientation says (:mod:`vidswap.io.exif`),
            as a photo is meant to be seen (a phone photo taken sideways is stored sideways). False
            gives them as stored: the frames of an image sequence, whose plates are stored as they are
            meant and whose size is the sequence's (a stray tag must not turn one frame of a shot).
    """
    import av

    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration) as err:
        size = _header_size(path)
        if size is not None and size[0] * size[1] > _MAX_PIXELS:
            raise MediaError(f"{path}: a {size[0]}x{size[1]} image is larger than FFmpeg decodes (at most "
                             f"{_MAX_PIXELS // 1_000_000} million pixels); scale it down") from err
        raise MediaError(f"{path}: not an image FFmpeg can read ({err})") from err
    if frame.format.name.startswith(("gbrpf32", "gbrapf32")):
        # Float pixels (EXR) to 8 bits here, exactly round(value * 255): FFmpeg's conversion is
        # approximate (0.8 -> 205), so values written from 8 bits would not read back as written.
        rgb = np.clip(np.rint(frame.to_ndarray()[..., :3] * 255), 0, 255).astype(np.uint8)
    else:
        rgb = frame.to_ndarray(format="rgb24")
    return exif.orient(rgb, exif.exif_orientation(path.read_bytes())) if orient else rgb


def probe_sequence(pattern: str | Path, *, rate: Fraction | None = None) -> MediaInfo:
    """A :class:`MediaInfo` for an image sequence, from its first image.

    Args:
        pattern: e.g. ``shots/a.%04d.png``.
        rate: frames per second (default 24).
    """
    rate = Fraction(rate or 24)
    files = sequence_files(pattern)
    if not files:
        raise InputError(f"{pattern}: no file matches this image sequence pattern")
    height, width, _ = read_image(files[0][1], orient=False).shape
    video = VideoInfo(
        index=0,
        codec=_image_format(Path(pattern)).decoder,
        width=width,
        height=height,
        pix_fmt="rgb24",
        bit_depth=8,
        time_base=1 / rate,
        rate=rate,
        frame_count=len(files),
        vfr=False,
        start_pts=0,
        rotation=0,
        color=ColorInfo(primaries=1, transfer=13, matrix=0, range=2),
    )
    return MediaInfo(
        path=Path(pattern),
        format="image2",
        duration=float(len(files) / rate),
        video=video,
        sequence=tuple(path for _, path in files),
    )


class ImageSequenceWriter:
    """Write frames as numbered images, each written to a temporary name and renamed.

    Args:
        pattern: output pattern, e.g. ``out/shot.%04d.png`` (an image type of
            :data:`~vidswap.io.media.IMAGE_SUFFIXES`).
        start_number: file number of the first frame written.
        overwrite: replace existing files of the sequence; otherwise refuse if any exists.
    """

    def __init__(self, pattern: str | Path, *, start_number: int = 0, overwrite: bool = False) -> None:
        folder = _check(pattern).parent
        if not folder.is_dir():
            raise InputError(f"{pattern}: output folder {folder} does not exist; create it first")
        existing = sequence_files(pattern)
        if existing and not overwrite:
            raise OutputExistsError(
                f"{pattern}: {len(existing)} files of this sequence exist (first "
                f"{existing[0][1].name}); with overwrite they are replaced", setting="overwrite"
            )
        self.pattern = str(pattern)
        self.number = start_number

    def __enter__(self) -> ImageSequenceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, rgb: np.ndarray) -> Path:
        """Write one ``(H, W, 3)`` uint8 RGB frame as the next file; returns its path."""
        path = write_image(media.sequence_path(self.pattern, self.number), rgb)
        self.number += 1
        return path


def write_image(path: Path, rgb: np.ndarray) -> Path:
    """Write one ``(H, W, 3)`` uint8 RGB image (an image type of
    :data:`~vidswap.io.media.IMAGE_SUFFIXES`) under a temporary name in its folder, then
    rename it, so ``path`` never holds a partial file."""
    import av

    image = _image_format(path)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ConfigError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")
    context = video_encoder(image.encoder)
    context.width, context.height, context.pix_fmt = rgb.shape[1], rgb.shape[0], image.pix_fmt
    context.time_base = Fraction(1, 25)
    context.options = dict(image.options)
    if image.pix_fmt.startswith("gbrpf32"):
        # Float pixels made here, exactly value / 255: FFmpeg 8.1's rgb24 -> gbrpf32 conversion is
        # approximate (51 -> 0.1993), and frames it made were encoded to other EXR samples once
        # OpenCV's thread pool had run in the process (off by one level in half the pixels).
        frame = av.VideoFrame.from_ndarray(np.divide(rgb, np.float32(255), dtype=np.float32), format=image.pix_fmt)
    else:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        if image.pix_fmt != "rgb24":
            frame = frame.reformat(format=image.pix_fmt, dst_colorspace=5, dst_color_range=2)
    data = b"".join(bytes(p) for p in context.encode(frame) + context.encode(None))
    temp = path.with_name(f".{path.name}.vidswap-tmp-{uuid.uuid4().hex[:8]}")
    temp.write_bytes(data)
    os.replace(temp, path)
    return path
