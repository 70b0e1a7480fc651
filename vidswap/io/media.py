"""The media vocabulary, written once: which files are videos, images and image sequences,
and the video codecs vidswap writes with their defaults and bounds.

The pipeline schema, the CLI's choices, probe, the sequence reader and writer, ``prepare``
and ``doctor`` all read these tables, so what ``vidswap validate`` accepts is what
``vidswap run`` can read and write. Importing this module imports neither PyAV nor numpy.

Every image type here is both read and written by the FFmpeg in the PyAV wheel (8.1), at the
sample depths its :class:`ImageFormat` lists (10-bit DPX, half and float EXR, 16-bit PNG and TIFF);
:mod:`vidswap.io.sequence` reads them at their own depth and writes them back at it. EXR values
0..1 are the 0..255 (or 0..65535) of the integer types, with no transfer curve.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "StoredDepth", "ImageFormat", "IMAGE_FORMATS", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "VIDEO_OUTPUT_SUFFIXES",
    "is_sequence_pattern", "sequence_files", "sequence_number", "sequence_path", "sequence_problem", "sequence_stem",
    "VideoCodec", "VIDEO_CODECS", "AUTO", "AUTO_PICKS", "CODEC_CHOICES", "DEFAULT_CODEC",
    "MATTE_CODEC", "codec_info", "CRF_RANGE", "BIT_DEPTHS", "Profile", "PROFILE_CHOICES",
]


# -- images and image sequences ------------------------------------------------------------

@dataclass(frozen=True, kw_only=True, slots=True)
class StoredDepth:
    """One sample depth an image type is written at.

    Args:
        bits: bits per sample as stored (EXR: 16 is half, 32 is float).
        pix_fmt: the encoder's pixel format for it.
        float: the samples are floating point (EXR), 0..1 being the integer types' full range.
        options: the encoder's private options for it.
    """

    bits: int
    pix_fmt: str
    float: bool = False
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class ImageFormat:
    """How one image type is read and written.

    Args:
        decoder: FFmpeg decoder name (what probe reports as the sequence's codec).
        encoder: FFmpeg encoder that writes it.
        depths: the depths it is written at, integer ones from the fewest bits, then float.
        options: the encoder's private options at every depth.
    """

    decoder: str
    encoder: str
    depths: tuple[StoredDepth, ...]
    options: dict[str, str] = field(default_factory=dict)


def _ints(*formats: tuple[int, str]) -> tuple[StoredDepth, ...]:
    return tuple(StoredDepth(bits=bits, pix_fmt=pix_fmt) for bits, pix_fmt in formats)


_JPEG = ImageFormat(decoder="mjpeg", encoder="mjpeg", depths=_ints((8, "yuvj444p")))
_TIFF = ImageFormat(decoder="tiff", encoder="tiff", depths=_ints((8, "rgb24"), (16, "rgb48le")))
#: Image types by lower-case extension; each is read and written.
IMAGE_FORMATS: dict[str, ImageFormat] = {
    ".png": ImageFormat(decoder="png", encoder="png", depths=_ints((8, "rgb24"), (16, "rgb48be"))),
    ".jpg": _JPEG,
    ".jpeg": _JPEG,
    ".tif": _TIFF,
    ".tiff": _TIFF,
    ".exr": ImageFormat(decoder="exr", encoder="exr", depths=tuple(
        StoredDepth(bits=bits, pix_fmt="gbrpf32le", float=True, options={"format": name})
        for bits, name in ((16, "half"), (32, "float")))),
    ".dpx": ImageFormat(decoder="dpx", encoder="dpx",
                        depths=_ints((8, "rgb24"), (10, "gbrp10le"), (12, "gbrp12le"), (16, "rgb48le"))),
    ".bmp": ImageFormat(decoder="bmp", encoder="bmp", depths=_ints((8, "bgr24"))),
    ".webp": ImageFormat(decoder="webp", encoder="libwebp", depths=_ints((8, "bgra")), options={"lossless": "1"}),
}
IMAGE_SUFFIXES = frozenset(IMAGE_FORMATS)


_FIELD = re.compile(r"%(0?)(\d*)d|(#+)")


def _field(pattern: Path) -> re.Match[str] | None:
    """The one frame-number field of a pattern's file name, or None (none, or several)."""
    fields = list(_FIELD.finditer(pattern.name))
    return fields[0] if len(fields) == 1 else None


def is_sequence_pattern(path: str | Path) -> bool:
    """True when the file name holds one frame-number field (``%04d``, ``%d`` or ``####``) and
    is not itself an existing file (``take#1.mov`` is a video)."""
    return _field(Path(path)) is not None and not Path(path).is_file()


def _number_regex(pattern: Path) -> re.Pattern[str] | None:
    """A regular expression matching the file names of a sequence, its group 1 the number."""
    match = _field(pattern)
    if match is None:
        return None
    zero, width, hashes = match.groups()
    digits = len(hashes) if hashes else int(width) if zero and width else 1
    name = pattern.name
    return re.compile(re.escape(name[: match.start()]) + rf"(\d{{{digits},}})" + re.escape(name[match.end():]) + "$")


def sequence_files(pattern: str | Path) -> list[tuple[int, Path]]:
    """The existing files of a sequence as ``(frame number, path)``, in number order.

    ``%04d`` and ``####`` (one ``#`` per digit) match numbers of at least that many digits
    (more past 9999); ``%d`` and ``%4d`` (space-padded) match any number of digits. A missing
    folder or a name without one field holds no files.
    """
    pattern = Path(pattern)
    regex = _number_regex(pattern)
    if regex is None or not pattern.parent.is_dir():
        return []
    found = [(int(m.group(1)), pattern.parent / entry)
             for entry in os.listdir(pattern.parent) if (m := regex.match(entry))]
    return sorted(found)


def sequence_number(pattern: str | Path, path: str | Path) -> int:
    """The frame number of one file of a sequence (``a.%04d.png``, ``a.1001.png`` -> 1001).

    Raises:
        ValueError: the file's name is not one of the pattern's.
    """
    regex = _number_regex(Path(pattern))
    found = regex.match(Path(path).name) if regex else None
    if found is None:
        raise ValueError(f"{Path(path).name} is not a file of the sequence {Path(pattern).name}")
    return int(found.group(1))


def sequence_problem(pattern: str | Path, files: Sequence[tuple[int, Path]]) -> str | None:
    """What is wrong with a sequence's files (:func:`sequence_files`), or None: a number missing
    between the first and the last, or given twice (``%d`` matches ``a.7.png`` and ``a.07.png``).
    A sequence is read without gaps: frame index ``i`` is the file numbered ``first + i``."""
    named: dict[int, Path] = {}
    for number, path in files:
        if number in named:
            return f"{named[number].name} and {path.name} are both frame {number}; keep one"
        named[number] = path
    if not files:
        return None
    first, last = files[0][0], files[-1][0]
    missing = [n for n in range(first, last + 1) if n not in named]
    if not missing:
        return None
    names = ", ".join(sequence_path(pattern, n).name for n in missing[:3])
    return (f"{len(missing)} of frames {first}-{last} missing (first {names}{' ...' if len(missing) > 3 else ''}); "
            "a sequence is read without gaps: render or copy them in")


def sequence_path(pattern: str | Path, number: int) -> Path:
    """The file of frame ``number`` in a sequence (``a.%04d.png``, 7 -> ``a.0007.png``)."""
    pattern = Path(pattern)
    match = _field(pattern)
    if match is None:
        raise ValueError(f"{pattern.name} holds no single frame-number field (%04d or ####)")
    hashes = match.group(3)
    text = f"{number:0{len(hashes)}d}" if hashes else match.group(0) % number
    return pattern.with_name(pattern.name[: match.start()] + text + pattern.name[match.end():])


def sequence_stem(pattern: str | Path) -> str:
    """The name of a sequence before its frame-number field, without trailing ``._-``."""
    pattern = Path(pattern)
    match = _field(pattern)
    return (pattern.name[: match.start()] if match else pattern.stem).rstrip("._-")


# -- video files and codecs ----------------------------------------------------------------

#: Video files vidswap reads (for finding videos in a folder; any file FFmpeg opens is read).
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".m4v", ".avi", ".nut", ".webm", ".mxf", ".mpg",
                            ".mpeg", ".ts"})

#: Constant-quality bounds (x264/x265 ``crf``, NVENC ``cq``), lower is better.
CRF_RANGE = (0, 51)
#: Bits per sample an output may ask for.
BIT_DEPTHS = (8, 10, 12)
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                 "slower", "veryslow", "placebo")
_H264_CONTAINERS = (".mp4", ".mov", ".mkv", ".m4v")


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    """One profile of a codec whose profile sets the quality (ProRes, DNxHR).

    Args:
        option: the encoder's ``profile`` option value for it.
        pix_fmts: the pixel formats it encodes, the first being the one to pick; empty: any
            the encoder takes.
    """

    option: str
    pix_fmts: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class VideoCodec:
    """One output codec's vocabulary.

    Args:
        name: the FFmpeg encoder (or ``auto``).
        quality: what sets the quality: ``crf`` (a constant rate factor), ``profile``
            (ProRes, DNxHR: one of ``profiles``) or ``lossless``.
        crf: default constant rate factor; None when ``quality`` is not ``crf``.
        preset: default speed preset; None when the codec has none.
        presets: the speed presets it takes.
        profiles: the profiles by name, when ``quality`` is ``profile``.
        default_profiles: without a profile asked, the first of these whose pixel formats hold
            the one chosen from the source (its chroma and depth) is used.
        bit_depths: bits per sample it encodes.
        min_size: the smallest frame (width, height) the encoder opens with; None: any.
        containers: file extensions that hold it, the first being the one to pick.
        segment_container: the container of a job's segments: NUT, which keeps the input's time
            base exactly, where it holds the codec.
    """

    name: str
    quality: Literal["crf", "profile", "lossless"]
    crf: int | None = None
    preset: str | None = None
    presets: tuple[str, ...] = ()
    profiles: dict[str, Profile] = field(default_factory=dict)
    default_profiles: tuple[str, ...] = ()
    bit_depths: tuple[int, ...]
    min_size: tuple[int, int] | None = None
    containers: tuple[str, ...]
    segment_container: str = ".nut"


_PRORES_4444 = ("yuv444p10le", "yuva444p10le")
#: prores_ks profiles, as FFmpeg numbers them.
_PRORES_PROFILES = {name: Profile(option=str(n), pix_fmts=_PRORES_4444 if name.startswith("4444") else ())
                    for n, name in enumerate(("proxy", "lt", "standard", "hq", "4444", "4444xq"))}
#: FFmpeg's dnxhd encoder's resolution-independent DNxHR profiles (its DNxHD profile takes only
#: Avid's fixed sizes and bit rates; not offered). Each encodes one chroma and depth.
_DNXHR_PROFILES = {
    **{name: Profile(option=name, pix_fmts=("yuv422p",)) for name in ("dnxhr_lb", "dnxhr_sq", "dnxhr_hq")},
    "dnxhr_hqx": Profile(option="dnxhr_hqx", pix_fmts=("yuv422p10le",)),
    "dnxhr_444": Profile(option="dnxhr_444", pix_fmts=("yuv444p10le", "gbrp10le")),
}

#: The codecs the writer drives (post-production defaults: libx264 crf 16 slow ...).
VIDEO_CODECS: dict[str, VideoCodec] = {c.name: c for c in (
    VideoCodec(name="libx264", quality="crf", crf=16, preset="slow", presets=_X26X_PRESETS,
               bit_depths=(8, 10), containers=_H264_CONTAINERS),
    VideoCodec(name="libx265", quality="crf", crf=18, preset="slow", presets=_X26X_PRESETS,
               bit_depths=(8, 10, 12), containers=(".mp4", ".mov", ".mkv")),  # .m4v (ipod) holds no HEVC
    VideoCodec(name="prores_ks", quality="profile", profiles=_PRORES_PROFILES, default_profiles=("4444", "hq"),
               bit_depths=(10,), containers=(".mov", ".mkv"), segment_container=".mov"),  # NUT cannot hold ProRes
    # FFmpeg muxes DNxHD into neither NUT, Matroska nor MP4. Not .mxf: its muxer drops the SAR, and
    # FFmpeg reports it holding only MPEG-2 and 16-bit PCM, so the source's audio would not be copied.
    VideoCodec(name="dnxhd", quality="profile", profiles=_DNXHR_PROFILES,
               default_profiles=("dnxhr_hq", "dnxhr_hqx", "dnxhr_444"), bit_depths=(8, 10), min_size=(256, 120),
               containers=(".mov",), segment_container=".mov"),
    VideoCodec(name="ffv1", quality="lossless", bit_depths=(8, 10, 12), containers=(".mkv", ".avi", ".nut")),
    VideoCodec(name="h264_nvenc", quality="crf", crf=19, preset="p5",
               presets=tuple(f"p{n}" for n in range(1, 8)), bit_depths=(8, 10),
               containers=_H264_CONTAINERS),
)}
#: ``auto`` picks the first of these whose encoder opens here (the last is the fallback).
AUTO = "auto"
AUTO_PICKS = ("h264_nvenc", "libx264")
CODEC_CHOICES = (*VIDEO_CODECS, AUTO)
DEFAULT_CODEC = "libx264"
#: The lossless codec a soft matte video is written with.
MATTE_CODEC = "ffv1"
#: Every profile name some codec takes (``encode.profile``; each codec checks its own).
PROFILE_CHOICES = tuple(dict.fromkeys(name for c in VIDEO_CODECS.values() for name in c.profiles))
#: Extensions of the video files vidswap writes (those holding one of its codecs).
VIDEO_OUTPUT_SUFFIXES = tuple(dict.fromkeys(s for c in VIDEO_CODECS.values() for s in c.containers))


def _auto() -> VideoCodec:
    """``auto``: the fallback's quality default, and the depths and containers all picks share."""
    picks = [VIDEO_CODECS[name] for name in AUTO_PICKS]
    fallback = picks[-1]
    return VideoCodec(
        name=AUTO, quality="crf", crf=fallback.crf,
        bit_depths=tuple(d for d in fallback.bit_depths if all(d in p.bit_depths for p in picks)),
        containers=tuple(s for s in fallback.containers if all(s in p.containers for p in picks)),
        segment_container=fallback.segment_container,
    )


_AUTO_CODEC = _auto()


def codec_info(name: str) -> VideoCodec:
    """The vocabulary of one of :data:`CODEC_CHOICES` (``auto``: what all its picks share).

    Raises:
        KeyError: ``name`` is not a codec vidswap writes.
    """
    return _AUTO_CODEC if name == AUTO else VIDEO_CODECS[name]
