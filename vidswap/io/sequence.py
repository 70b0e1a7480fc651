"""Image sequences (``shot.%04d.png``, ``.jpg``, ``.tif``) as input and output.

A sequence is a printf-style pattern; its frames are the files that match, in number order
(gaps allowed). Frame ``i`` of the sequence is the ``i``-th file; its pts is ``i`` in a
``1/rate`` time base.
"""

from __future__ import annotations

import os
import re
import uuid
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidswap.errors import ConfigError, InputError, MediaError, OutputExistsError
from vidswap.io.probe import ColorInfo, MediaInfo, VideoInfo

__all__ = ["sequence_files", "probe_sequence", "read_image", "ImageSequenceWriter"]

_FIELD = re.compile(r"%(0?)(\d*)d")
#: Extension -> (FFmpeg image encoder, pixel format it is written in).
_IMAGE_CODECS = {
    ".png": ("png", "rgb24"),
    ".jpg": ("mjpeg", "yuvj444p"),
    ".jpeg": ("mjpeg", "yuvj444p"),
    ".tif": ("tiff", "rgb24"),
    ".tiff": ("tiff", "rgb24"),
}


def _split(pattern: str | Path) -> tuple[Path, re.Match[str], str]:
    pattern = Path(pattern)
    match = _FIELD.search(pattern.name)
    if match is None or len(_FIELD.findall(pattern.name)) != 1:
        raise ConfigError(
            f"{pattern}: an image sequence needs one frame-number field like %04d in its file name"
        )
    if pattern.suffix.lower() not in _IMAGE_CODECS:
        raise ConfigError(
            f"{pattern}: image sequences are {', '.join(_IMAGE_CODECS)}, got {pattern.suffix!r}"
        )
    return pattern.parent, match, pattern.name


def sequence_files(pattern: str | Path) -> list[tuple[int, Path]]:
    """The files of a sequence as ``(frame number, path)``, sorted by number."""
    folder, match, name = _split(pattern)
    # %04d names have at least 4 digits (more past 9999); %d and %4d (space-padded) any number.
    digits = rf"\d{{{match.group(2)},}}" if match.group(1) and match.group(2) else r"\d+"
    regex = re.compile(
        re.escape(name[: match.start()]) + f"({digits})" + re.escape(name[match.end() :]) + "$"
    )
    if not folder.is_dir():
        raise InputError(f"{pattern}: folder {folder} does not exist")
    found = [(int(m.group(1)), folder / entry) for entry in os.listdir(folder) if (m := regex.match(entry))]
    return sorted(found)


def read_image(path: Path) -> np.ndarray:
    """One image file as ``(H, W, 3)`` uint8 RGB (16-bit images are rounded to 8 bits)."""
    import av

    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration) as err:
        raise MediaError(f"{path}: not an image FFmpeg can read ({err})") from err
    return frame.to_ndarray(format="rgb24")


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
    height, width, _ = read_image(files[0][1]).shape
    video = VideoInfo(
        index=0,
        codec=_IMAGE_CODECS[Path(pattern).suffix.lower()][0],
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
        pattern: output pattern, e.g. ``out/shot.%04d.png`` (``.png``, ``.jpg``, ``.tif``).
        start_number: file number of the first frame written.
        overwrite: replace existing files of the sequence; otherwise refuse if any exists.
    """

    def __init__(self, pattern: str | Path, *, start_number: int = 0, overwrite: bool = False) -> None:
        folder, _, _ = _split(pattern)
        if not folder.is_dir():
            raise InputError(f"{pattern}: output folder {folder} does not exist; create it first")
        existing = sequence_files(pattern)
        if existing and not overwrite:
            raise OutputExistsError(
                f"{pattern}: {len(existing)} files of this sequence exist (first "
                f"{existing[0][1].name}); pass overwrite=True (--overwrite) to replace them"
            )
        self.pattern = str(pattern)
        self.number = start_number

    def __enter__(self) -> ImageSequenceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, rgb: np.ndarray) -> Path:
        """Write one ``(H, W, 3)`` uint8 RGB frame as the next file; returns its path."""
        path = write_image(Path(self.pattern % self.number), rgb)
        self.number += 1
        return path


def write_image(path: Path, rgb: np.ndarray) -> Path:
    """Write one ``(H, W, 3)`` uint8 RGB image (``.png``, ``.jpg``, ``.tif``) under a temporary
    name in its folder, then rename it, so ``path`` never holds a partial file."""
    import av

    if path.suffix.lower() not in _IMAGE_CODECS:
        raise ConfigError(f"{path}: cannot write images of this type; use one of "
                          f"{', '.join(sorted(_IMAGE_CODECS))}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ConfigError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")
    codec, pix_fmt = _IMAGE_CODECS[path.suffix.lower()]
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = rgb.shape[1], rgb.shape[0], pix_fmt
    context.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    if pix_fmt != "rgb24":
        frame = frame.reformat(format=pix_fmt, dst_colorspace=5, dst_color_range=2)
    data = b"".join(bytes(p) for p in context.encode(frame) + context.encode(None))
    temp = path.with_name(f".{path.name}.vidswap-tmp-{uuid.uuid4().hex[:8]}")
    temp.write_bytes(data)
    os.replace(temp, path)
    return path
