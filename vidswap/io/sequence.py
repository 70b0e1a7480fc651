"""Image sequences (``shot.%04d.png``, ``plate.####.exr``) as input and output.

A sequence is a pattern with one frame-number field (:mod:`vidswap.io.media`); its frames are
the files that match, in number order, with no number missing between the first and the last (a
gap is refused by name at probe). Frame index ``i`` (what frame ranges count, from 0) is the
``i``-th file, whose number is the plate's own (:func:`plate_number`: ``plate.1001.dpx`` is index 0);
its pts is ``i`` in a ``1/rate`` time base. Files are read at their own depth (:func:`read_native`)
and written at the depth asked (:class:`ImageSequenceWriter`), as stored (an EXIF orientation tag
is not applied: plates are stored as meant, and a sequence has no rotation to keep); single photos
are read upright (:func:`read_image`).
"""

from __future__ import annotations

import logging
import os
import re
import struct
import uuid
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidswap.errors import ConfigError, InputError, MediaError, OutputExistsError
from vidswap.io import exif, media
from vidswap.io.codecs import pixel_format_depth, video_encoder
from vidswap.io.probe import ColorInfo, MediaInfo, VideoInfo
from vidswap.io.scale import convert

if TYPE_CHECKING:
    import av

__all__ = ["NATIVE_PIX_FMTS", "sequence_files", "probe_sequence", "plate_number", "read_native", "read_image",
           "to_uint8", "write_image", "ImageSequenceWriter"]

log = logging.getLogger(__name__)


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


#: The in-memory layout of each sample type :func:`read_native` gives, as an FFmpeg pixel format.
NATIVE_PIX_FMTS: dict[str, str] = {"uint8": "rgb24", "uint16": "rgb48le", "float32": "rgbf32le"}

# FFmpeg's planar RGB and grey formats, read plane by plane: gbrp10le, gbrpf16le, gray16be ...
_PLANAR = re.compile(r"(gbra?p|gray)(f?)(\d*)(le|be)?")


def _decode(path: Path) -> av.VideoFrame:
    """The first frame of an image file, or a :class:`MediaError` naming it."""
    import av

    try:
        with av.open(str(path)) as container:
            return next(container.decode(video=0))
    except (av.FFmpegError, StopIteration) as err:
        size = _header_size(path)
        if size is not None and size[0] * size[1] > _MAX_PIXELS:
            raise MediaError(f"{path}: a {size[0]}x{size[1]} image is larger than FFmpeg decodes (at most "
                             f"{_MAX_PIXELS // 1_000_000} million pixels); scale it down") from err
        raise MediaError(f"{path}: not an image FFmpeg can read ({err})") from err


def _planar(frame: av.VideoFrame) -> np.ndarray | None:
    """A planar RGB or grey frame as ``(H, W, 3)`` RGB samples as stored (uint8, uint16 holding
    ``bits`` bits, float16 or float32), alpha dropped; None for other layouts."""
    found = _PLANAR.fullmatch(frame.format.name)
    if found is None:
        return None
    kind, is_float, bits, endian = found.groups()
    size = int(bits or 8)
    dtype = np.dtype(("f" if is_float else "u") + str(1 if size <= 8 else 2 if size <= 16 else 4)).newbyteorder(
        ">" if endian == "be" else "<")
    planes = [np.frombuffer(bytes(plane), dtype).reshape(plane.height, -1)[:, : plane.width] for plane in frame.planes]
    rgb = [planes[0]] * 3 if kind == "gray" else [planes[2], planes[0], planes[1]]  # FFmpeg's order: G, B, R
    return np.stack(rgb, axis=-1).astype(dtype.newbyteorder("="), copy=False)


def _to16(samples: np.ndarray, bits: int) -> np.ndarray:
    """``bits``-bit samples at full 16-bit scale, the top bits repeated below (10-bit ``v`` -> ``v * 64 +
    v // 16``), so that ``x >> (16 - bits)`` gives ``v`` back exactly."""
    wide = samples.astype(np.uint16)
    return wide if bits == 16 else (wide << (16 - bits)) | (wide >> (2 * bits - 16))


def read_native(path: Path) -> np.ndarray:
    """One image file as ``(H, W, 3)`` RGB samples at the file's own depth, as stored (no EXIF turn).

    8-bit images (and JPEG, BMP, WebP) give uint8; deeper integer images (10/12/16-bit DPX, 16-bit
    PNG and TIFF) give uint16 at full 16-bit scale (a 10-bit code value ``v`` is ``v * 64 + v // 16``,
    which ``x >> 6`` reverses exactly); EXR half and float give float32 (half converts exactly).
    Alpha is dropped. :data:`NATIVE_PIX_FMTS` names each layout.

    Raises:
        MediaError: not an image FFmpeg can read.
    """
    return _native(_decode(path))


def _native(frame: av.VideoFrame) -> np.ndarray:
    """A decoded image's samples as :func:`read_native` gives them."""
    planar = _planar(frame)
    depth = pixel_format_depth(frame.format.name)
    if planar is None:
        # Packed 16-bit RGB(A) (PNG, TIFF) comes as stored; JPEG's YUV, BMP, WebP and palettes as 8-bit RGB.
        return convert(frame, "rgb48le" if depth > 8 else "rgb24").to_ndarray()
    if planar.dtype.kind == "f":
        return planar.astype(np.float32)
    return planar if depth == 8 else _to16(planar, depth)


#: round(x * 255 / 65535) for every 16-bit x: a lookup is exact and faster than the arithmetic.
_UINT8_OF_16 = ((np.arange(65536, dtype=np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """:func:`read_native` samples rounded to 8 bits (float: ``round(value * 255)``, clipped to 0..255,
    NaN as 0; 16-bit: ``round(x * 255 / 65535)``, which gives ``v`` back for ``v * 257``)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return np.take(_UINT8_OF_16, image)
    return np.rint(np.clip(np.nan_to_num(image), 0, 1) * 255).astype(np.uint8)


def read_image(path: Path, *, orient: bool = True) -> np.ndarray:
    """One image file as ``(H, W, 3)`` uint8 RGB (:func:`read_native` rounded by :func:`to_uint8`).

    Args:
        path: the image file.
        orient: turn the pixels upright as the file's EXIF orientation says (:mod:`vidswap.io.exif`),
            as a photo is meant to be seen (a phone photo taken sideways is stored sideways). False
            gives them as stored: the frames of an image sequence, whose plates are stored as they are
            meant and whose size is the sequence's (a stray tag must not turn one frame of a shot).
    """
    rgb = to_uint8(read_native(path))
    return exif.orient(rgb, exif.exif_orientation(path.read_bytes())) if orient else rgb


def probe_sequence(pattern: str | Path, *, rate: Fraction | None = None) -> MediaInfo:
    """A :class:`MediaInfo` for an image sequence, from its first image.

    ``video.pix_fmt`` is the layout :func:`read_native` gives (:data:`NATIVE_PIX_FMTS`: ``rgb24``,
    ``rgb48le`` or ``rgbf32le``); ``video.bit_depth`` is the depth the files store (10 for a 10-bit
    DPX, 16 for EXR half, 32 for EXR float), what :class:`ImageSequenceWriter` takes as ``depth``.

    Args:
        pattern: e.g. ``shots/a.%04d.png``.
        rate: frames per second (default 24).

    Raises:
        InputError: no file matches, or numbers are missing between the first and the last file.
    """
    pattern = _check(pattern)
    rate = Fraction(rate or 24)
    files = sequence_files(pattern)
    if not files:
        raise InputError(f"{pattern}: no file matches this image sequence pattern")
    problem = media.sequence_problem(pattern, files)
    if problem is not None:
        raise InputError(f"{pattern}: {problem}")
    first = _decode(files[0][1])
    samples = _native(first)
    height, width, _ = samples.shape
    video = VideoInfo(
        index=0,
        codec=_image_format(pattern).decoder,
        width=width,
        height=height,
        pix_fmt=NATIVE_PIX_FMTS[samples.dtype.name],
        bit_depth=pixel_format_depth(first.format.name),
        time_base=1 / rate,
        rate=rate,
        frame_count=len(files),
        vfr=False,
        start_pts=0,
        rotation=0,
        color=ColorInfo(primaries=1, transfer=13, matrix=0, range=2),
    )
    return MediaInfo(
        path=pattern,
        format="image2",
        duration=float(len(files) / rate),
        video=video,
        sequence=tuple(path for _, path in files),
    )


def plate_number(info: MediaInfo, index: int) -> int:
    """The file number of frame ``index`` (0 = the first frame): a sequence's own numbers
    (``plate.1001.dpx`` is frame 0: 1001), a video's frame index."""
    if not info.sequence:
        return index
    return media.sequence_number(info.path, info.sequence[0]) + index


class ImageSequenceWriter:
    """Write frames as numbered images, each written to a temporary name and renamed.

    Args:
        pattern: output pattern, e.g. ``out/shot.%04d.png`` (an image type of
            :data:`~vidswap.io.media.IMAGE_SUFFIXES`).
        start_number: file number of the first frame written (:func:`plate_number` keeps a plate's).
        overwrite: replace existing files of the sequence; otherwise refuse if any exists.
        depth: bits per sample the frames stand for (a probed input's ``video.bit_depth``: 10 for a
            10-bit DPX, 16 for EXR half, 32 for EXR float); None: the array's type's own (8, 16, 32).
            Files are stored at the fewest bits of their type holding that depth (:func:`write_image`).
    """

    def __init__(self, pattern: str | Path, *, start_number: int = 0, overwrite: bool = False,
                 depth: int | None = None) -> None:
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
        self.depth = depth
        self._warned = False

    def __enter__(self) -> ImageSequenceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, image: np.ndarray) -> Path:
        """Write one ``(H, W, 3)`` RGB frame (uint8, uint16 at full scale or float32) as the next
        file; returns its path. The first frame the files cannot hold exactly logs one warning."""
        path = media.sequence_path(self.pattern, self.number)
        loss = _write(path, image, self.depth)
        if loss and not self._warned:
            log.warning("%s: %s (and every frame after it)", path, loss)
            self._warned = True
        self.number += 1
        return path


def _stored(image: media.ImageFormat, kind: str, depth: int) -> tuple[media.StoredDepth, str | None]:
    """The depth a file of ``image``'s type is stored at for samples of ``kind`` (``u``: integer,
    ``f``: float) standing for ``depth`` bits, and what it loses (None: nothing)."""
    ints = [d for d in image.depths if not d.float]
    floats = [d for d in image.depths if d.float]
    if floats:  # EXR: float samples of depth 16 are half; the rest float, which holds 24-bit integers
        return (floats[0] if kind == "f" and depth <= 16 else floats[-1]), None
    if kind == "f":
        return ints[-1], f"float samples stored as {ints[-1].bits}-bit integers (clipped to 0..1)"
    stored = next((d for d in ints if d.bits >= depth), ints[-1])
    return stored, None if stored.bits >= depth else f"{depth}-bit samples stored at {stored.bits} bits"


def _frame(samples: np.ndarray, stored: media.StoredDepth) -> av.VideoFrame:
    """An FFmpeg frame of ``samples`` in ``stored``'s pixel format, converted here exactly."""
    import av

    if stored.float:
        # Float pixels made here, exactly value / 255 (or / 65535): FFmpeg 8.1's rgb24 -> gbrpf32
        # conversion is approximate (51 -> 0.1993), and frames it made were encoded to other EXR
        # samples once OpenCV's thread pool had run in the process (off by one level in half the pixels).
        scale = {"uint8": 255, "uint16": 65535}.get(samples.dtype.name, 1)
        return av.VideoFrame.from_ndarray(np.divide(samples, np.float32(scale), dtype=np.float32),
                                          format=stored.pix_fmt)
    if samples.dtype == np.float32:
        samples = np.rint(np.clip(np.nan_to_num(samples), 0, 1) * 65535).astype(np.uint16)
    if stored.bits == 8:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(to_uint8(samples)), format="rgb24")
        if stored.pix_fmt != "rgb24":
            frame = convert(frame, stored.pix_fmt, dst_colorspace=5, dst_color_range=2)
        return frame
    wide = samples.astype(np.uint16) * 257 if samples.dtype == np.uint8 else samples
    if stored.bits == 16:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(wide), format="rgb48le")
        return frame if stored.pix_fmt == "rgb48le" else convert(frame, stored.pix_fmt)
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(wide >> (16 - stored.bits)), format=stored.pix_fmt)


def _write(path: Path, image: np.ndarray, depth: int | None) -> str | None:
    """Write one image (see :func:`write_image`); returns what its file could not hold, or None."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype.name not in NATIVE_PIX_FMTS:
        raise ConfigError(f"{path}: expected an (H, W, 3) uint8, uint16 or float32 RGB frame, got "
                          f"{image.shape} {image.dtype}")
    kind = image.dtype.kind
    image_format = _image_format(path)
    stored, loss = _stored(image_format, kind, depth or 8 * image.dtype.itemsize)
    context = video_encoder(image_format.encoder)
    context.width, context.height, context.pix_fmt = image.shape[1], image.shape[0], stored.pix_fmt
    context.time_base = Fraction(1, 25)
    context.options = {**image_format.options, **stored.options}
    frame = _frame(image, stored)
    data = b"".join(bytes(p) for p in context.encode(frame) + context.encode(None))
    temp = path.with_name(f".{path.name}.vidswap-tmp-{uuid.uuid4().hex[:8]}")
    temp.write_bytes(data)
    os.replace(temp, path)
    return loss


def write_image(path: Path, image: np.ndarray, *, depth: int | None = None) -> Path:
    """Write one ``(H, W, 3)`` RGB image (an image type of :data:`~vidswap.io.media.IMAGE_SUFFIXES`)
    under a temporary name in its folder, then rename it, so ``path`` never holds a partial file.

    ``image`` is uint8, uint16 at full 16-bit scale, or float32 (0..1 being the integers' full range).
    ``depth`` is the bits per sample it stands for (None: 8, 16 or 32 by its type; 16 for float
    means EXR half). The file is stored at the fewest bits its type has holding that depth: DPX 8,
    10, 12 or 16 (10 stores ``x >> 6``); PNG and TIFF 8 or 16; EXR half for float samples of depth
    16, float otherwise; JPEG, BMP and WebP 8. A depth its type cannot hold (16-bit into JPEG, float
    into DPX/PNG/TIFF, as 16-bit integers clipped to 0..1, NaN as 0) is written and logged as one warning.

    Raises:
        ConfigError: not an image type vidswap writes, or not such an array.
    """
    loss = _write(path, image, depth)
    if loss:
        log.warning("%s: %s", path, loss)
    return path
