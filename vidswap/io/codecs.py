"""Encoder settings: codec, quality, preset, pixel format and bit depth, resolved at run time.

:class:`EncodeSettings` says what the user asked for (``codec="auto"``, ``crf=None`` ...);
:func:`resolve_encode` turns it into what the encoder gets for one source video: a concrete
codec (``auto`` picks ``h264_nvenc`` when a GPU encoder opens, else ``libx264``), a pixel
format that keeps the source's chroma and bit depth where the codec allows, and the
encoder's own option names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING

from vidswap.errors import ConfigError, MediaError
from vidswap.io.media import (
    AUTO,
    AUTO_PICKS,
    BIT_DEPTHS,
    CODEC_CHOICES,
    CRF_RANGE,
    DEFAULT_CODEC,
    MATTE_CODEC,
    VIDEO_CODECS,
    Profile,
)

if TYPE_CHECKING:
    import av

__all__ = [
    "CODECS",
    "EncodeSettings",
    "ResolvedEncode",
    "encoder_available",
    "resolve_encode",
    "pixel_format_depth",
    "video_encoder",
]

#: Codecs the writer knows how to drive, with their default CRF (None: no CRF, e.g. ProRes, DNxHR);
#: the full vocabulary is :data:`vidswap.io.media.VIDEO_CODECS`.
CODECS: dict[str, int | None] = {name: codec.crf for name, codec in VIDEO_CODECS.items()}

_PIX = re.compile(r"^(yuvj|yuva|yuv|gbra|gbr|gray)(\d{3})?p?(\d+)?(le|be)?$")


@dataclass(frozen=True, kw_only=True, slots=True)
class EncodeSettings:
    """How the writer encodes video; defaults and bounds come from :mod:`vidswap.io.media`.

    Args:
        codec: one of :data:`~vidswap.io.media.CODEC_CHOICES` (``auto``: h264_nvenc when
            usable, else libx264); default libx264.
        crf: constant rate factor (x264/x265 ``crf``, NVENC ``cq``); lower is better,
            0-51. None uses the codec's default (x264 16, x265 18, NVENC 19). Not used by
            ProRes and DNxHR (``profile``) or FFV1 (always lossless).
        preset: the encoder's speed preset (x264/x265 ``ultrafast``..``placebo``, NVENC
            ``p1``..``p7``); None uses the codec's default (x264/x265 ``slow``, NVENC ``p5``).
        pix_fmt: output pixel format, e.g. ``yuv420p10le``; None keeps the source's chroma
            subsampling and bit depth where the codec allows (ProRes: 4:2:2 10-bit), within
            the pixel formats of ``profile`` when one is given.
        bit_depth: 8, 10 or 12 bits when ``pix_fmt`` is None; None keeps the source's.
        profile: a profile of ``codec`` by name (:attr:`~vidswap.io.media.VideoCodec.profiles`:
            prores_ks ``proxy`` .. ``4444xq``, dnxhd ``dnxhr_lb`` .. ``dnxhr_444``); None picks
            one for the pixel format (ProRes HQ or 4444; DNxHR HQ, HQX or 444).
        threads: encoder threads; 0 lets FFmpeg choose.
    """

    codec: str = DEFAULT_CODEC
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    bit_depth: int | None = None
    profile: str | None = None
    threads: int = 0

    def __post_init__(self) -> None:
        low, high = CRF_RANGE
        if self.codec not in CODEC_CHOICES:
            raise ConfigError(f"codec must be one of {', '.join(CODEC_CHOICES)}, got {self.codec!r}")
        if self.crf is not None and not low <= self.crf <= high:
            raise ConfigError(f"crf must be {low}-{high}, got {self.crf}")
        if self.bit_depth is not None and self.bit_depth not in BIT_DEPTHS:
            raise ConfigError(f"bit_depth must be {', '.join(map(str, BIT_DEPTHS))}, got {self.bit_depth}")
        profiles = VIDEO_CODECS[self.codec].profiles if self.codec in VIDEO_CODECS else {}
        if self.profile is not None and self.profile not in profiles:
            expected = f"one of {', '.join(profiles)}" if profiles else "none"
            raise ConfigError(f"{self.codec} profile must be {expected}, got {self.profile!r}")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0, got {self.threads}")

    @classmethod
    def matte(cls) -> EncodeSettings:
        """Lossless greyscale (FFV1 ``gray``) for a soft-matte video; write it to ``.mkv``."""
        return cls(codec=MATTE_CODEC, pix_fmt="gray")


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedEncode:
    """What the encoder gets: codec name, pixel format and its private options."""

    codec: str
    pix_fmt: str
    options: dict[str, str]


def pixel_format_depth(pix_fmt: str) -> int:
    """Bits per component of a pixel format (8 for ``yuv420p``, 10 for ``yuv420p10le``)."""
    import av

    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def video_encoder(name: str) -> av.VideoCodecContext:
    """A new, unopened context of an FFmpeg video (or image) encoder.

    Raises:
        MediaError: ``name`` is not a video encoder of this FFmpeg.
    """
    import av

    context = av.CodecContext.create(name, "w")
    if not isinstance(context, av.VideoCodecContext):
        raise MediaError(f"{name} is not a video encoder")
    return context


def _formats(codec: str) -> list[str]:
    """The pixel formats an encoder takes."""
    import av

    return [f.name for f in av.Codec(codec, "w").video_formats or ()]


@cache
def encoder_available(codec: str) -> bool:
    """Whether an encoder exists in this FFmpeg and opens here (NVENC needs an NVIDIA GPU)."""
    import av

    if codec not in av.codecs_available:
        return False
    try:
        context = video_encoder(codec)
        context.width, context.height, context.pix_fmt = 256, 256, _formats(codec)[0]
        context.time_base = Fraction(1, 25)
        context.open()
    except (av.FFmpegError, ValueError, IndexError, MediaError):
        return False
    return True


def _chroma(pix_fmt: str) -> str | None:
    match = _PIX.match(pix_fmt)
    if match is None or match.group(1) in ("gbr", "gbra", "gray"):
        return None
    return match.group(2) or "444"


def _choose_pix_fmt(codec: str, source_pix_fmt: str, bit_depth: int | None, profile: Profile | None) -> str:
    """The source's chroma and depth where the encoder (and ``profile``) allow."""
    info = VIDEO_CODECS[codec]
    supported = [f for f in _formats(codec) if profile is None or not profile.pix_fmts or f in profile.pix_fmts]
    if info.quality == "lossless" and source_pix_fmt in supported and bit_depth is None:
        return source_pix_fmt  # lossless: keep the source's format as it is
    if profile is not None and profile.pix_fmts:
        supported.sort(key=profile.pix_fmts.index)
    if bit_depth is not None and info.profiles:  # the format picks the profile: the depth asked comes first
        supported = [f for f in supported if pixel_format_depth(f) == bit_depth] or supported
    depth = bit_depth or pixel_format_depth(source_pix_fmt)
    chroma = _chroma(source_pix_fmt) or "444"
    for c in dict.fromkeys((chroma, "422", "420", "444")):
        for d in dict.fromkeys((depth, 10, 8) if depth > 8 else (8, 10)):
            name = f"yuv{c}p" + ("" if d == 8 else f"{d}le")
            if name in supported:
                return name
    if depth > 8 and "p010le" in supported:  # NVENC's 10-bit 4:2:0
        return "p010le"
    return supported[0] if profile is not None and profile.pix_fmts else "yuv420p"


def _default_profile(codec: str, pix_fmt: str) -> str | None:
    """The first of the codec's default profiles whose pixel formats hold ``pix_fmt``."""
    info = VIDEO_CODECS[codec]
    return next((name for name in info.default_profiles
                 if not info.profiles[name].pix_fmts or pix_fmt in info.profiles[name].pix_fmts), None)


def resolve_encode(
    settings: EncodeSettings,
    *,
    source_pix_fmt: str,
    container_codecs: set[str] | None = None,
    size: tuple[int, int] | None = None,
    output: str = "the output",
) -> ResolvedEncode:
    """The concrete codec, pixel format and options for encoding one source.

    Args:
        settings: what was asked.
        source_pix_fmt: the source video's pixel format (its chroma and depth are kept).
        container_codecs: codecs the output container accepts; None skips that check.
        size: the frames' (width, height), checked against the codec's smallest; None skips it.
        output: the output's name, for messages.

    Raises:
        MediaError: the codec is not usable here, the container cannot hold it, or the frames
            are smaller than it encodes.
        ConfigError: ``pix_fmt`` is not one the codec (or its profile) takes.
    """
    import av

    codec = settings.codec
    if codec == AUTO:
        codec = next(name for name in AUTO_PICKS if name == AUTO_PICKS[-1] or encoder_available(name))
    elif codec == "h264_nvenc" and not encoder_available(codec):
        raise MediaError(
            f"{output}: codec h264_nvenc needs an NVIDIA GPU and driver, none is usable here; "
            "use codec auto or libx264"
        )
    elif codec not in av.codecs_available:
        raise MediaError(
            f"{output}: this FFmpeg build has no {codec} encoder; choose one of "
            f"{', '.join(c for c in CODECS if c in av.codecs_available)}"
        )
    base = av.Codec(codec, "w").name
    if container_codecs is not None and base not in container_codecs and codec not in container_codecs:
        raise MediaError(f"{output}: its container cannot hold {codec} video; use "
                         f"{' or '.join(VIDEO_CODECS[codec].containers)}")
    info = VIDEO_CODECS[codec]
    if size is not None and info.min_size is not None and (size[0] < info.min_size[0] or size[1] < info.min_size[1]):
        low = "x".join(map(str, info.min_size))
        raise MediaError(f"{output}: {codec} encodes frames of at least {low}, the input's are "
                         f"{size[0]}x{size[1]}; set encode.codec to another codec", setting="encode.codec")
    asked = info.profiles[settings.profile] if settings.profile is not None else None
    if settings.pix_fmt is not None:
        supported = _formats(codec)
        if settings.pix_fmt not in supported:
            raise ConfigError(
                f"pix_fmt {settings.pix_fmt} is not supported by {codec}; it takes {', '.join(supported)}"
            )
        if asked is not None and asked.pix_fmts and settings.pix_fmt not in asked.pix_fmts:
            raise ConfigError(f"{output}: {codec} profile {settings.profile} takes pix_fmt "
                              f"{' or '.join(asked.pix_fmts)}, not {settings.pix_fmt}; change encode.pix_fmt",
                              setting="encode.pix_fmt")
        pix_fmt = settings.pix_fmt
    else:
        pix_fmt = _choose_pix_fmt(codec, source_pix_fmt, settings.bit_depth, asked)
    crf = settings.crf if settings.crf is not None else VIDEO_CODECS[codec].crf
    preset = settings.preset or VIDEO_CODECS[codec].preset
    options: dict[str, str] = {}
    if codec in ("libx264", "libx265"):
        options = {"crf": str(crf), "preset": str(preset)}
        if codec == "libx265":
            options["x265-params"] = "log-level=error"
    elif codec == "h264_nvenc":
        options = {"rc": "vbr", "cq": str(crf), "b": "0", "preset": str(preset)}
    elif info.quality == "profile":
        profile = settings.profile or _default_profile(codec, pix_fmt)
        if profile is None:
            raise ConfigError(f"{output}: no {codec} profile encodes {pix_fmt}; set encode.profile",
                              setting="encode.profile")
        options = {"profile": info.profiles[profile].option}
    elif codec == "ffv1":
        options = {"level": "3", "g": "1", "slicecrc": "1"}
    return ResolvedEncode(codec=codec, pix_fmt=pix_fmt, options=options)
