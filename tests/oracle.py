"""An independent oracle for conformance tests: Debian's ``ffprobe``/``ffmpeg`` command-line tools
(not vidswap's reader, not PyAV), and clips generated with them.

Everything here shells out to the tools on ``PATH``; :func:`require_tools` skips a test with the
reason when they are missing (``.ci/run`` installs them: ``apt-get install -y ffmpeg``). Planes are
compared in the file's own pixel format (``-f rawvideo -pix_fmt <native>``), never in RGB, so a
change of a YUV sample cannot hide in a colour conversion.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

__all__ = ["require_tools", "ffprobe", "video", "audio", "frame_times", "start_time", "Planes", "planes",
           "ffmpeg", "h264_bframes_mp4", "prores_hq_mov", "vfr_mkv", "audio_first_mp4", "image_sequence",
           "exr_channel_types", "exr_header", "rgba_image", "grey_image", "packet_times", "streams", "interlaced_mp4"]


def require_tools() -> None:
    """Skip the calling test unless ``ffprobe`` and ``ffmpeg`` are on ``PATH``."""
    missing = [tool for tool in ("ffprobe", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the conformance oracle needs {' and '.join(missing)} (apt-get install -y ffmpeg)")


def ffprobe(path: Path, *args: str) -> dict[str, Any]:
    """``ffprobe -of json`` of ``path`` with ``args`` (default: streams and format)."""
    require_tools()
    command = ["ffprobe", "-v", "error", "-of", "json", *(args or ("-show_streams", "-show_format")), str(path)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def video(path: Path) -> dict[str, Any]:
    """The first video stream's ffprobe entry (codec, pix_fmt, colour tags, SAR, field order,
    start time, time base, tags, side data ...)."""
    return next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")


def audio(path: Path) -> list[dict[str, Any]]:
    """The audio streams' ffprobe entries, in file order."""
    return [s for s in ffprobe(path)["streams"] if s["codec_type"] == "audio"]


def frame_times(path: Path, stream: str = "v:0") -> list[Fraction]:
    """Every frame's presentation time in seconds, exactly (pts * time base), in presentation order."""
    probed = ffprobe(path, "-select_streams", stream, "-show_entries", "stream=time_base:frame=pts,pkt_dts",
                     "-show_frames")
    base = Fraction(probed["streams"][0]["time_base"])
    stamps = [int(f["pts"]) if "pts" in f else int(f["pkt_dts"]) for f in probed["frames"]]
    return sorted(s * base for s in stamps)


def start_time(path: Path, stream: str = "v:0") -> Fraction:
    """A stream's start time in seconds as ffprobe reports it (exact: start_pts * time_base)."""
    probed = ffprobe(path, "-select_streams", stream, "-show_entries", "stream=start_pts,time_base")
    entry = probed["streams"][0]
    return int(entry["start_pts"]) * Fraction(entry["time_base"])


def packet_times(path: Path, stream: str = "a:0") -> list[Fraction]:
    """Every packet's presentation time in seconds, exactly, in file order (for audio: where each
    packet lies, priming included, whatever start time the container reports)."""
    probed = ffprobe(path, "-select_streams", stream, "-show_entries", "stream=time_base:packet=pts,dts",
                     "-show_packets")
    base = Fraction(probed["streams"][0]["time_base"])
    return [int(p["pts"] if "pts" in p else p["dts"]) * base for p in probed["packets"]]


def streams(path: Path) -> list[dict[str, Any]]:
    """Every stream's ffprobe entry, in file order."""
    return list(ffprobe(path)["streams"])


@dataclass(frozen=True)
class Planes:
    """Decoded frames in one pixel format: ``frames[i][p]`` is plane ``p`` of frame ``i``, an
    ``(h, w)`` array (uint8, or uint16 for >8-bit formats, float32 for float formats)."""

    pix_fmt: str
    frames: list[list[np.ndarray]]


# (bytes per sample, dtype, [(plane width divisor, plane height divisor), ...]) per raw format.
_LAYOUTS: dict[str, tuple[str, list[tuple[int, int]]]] = {
    "gray": ("u1", [(1, 1)]),
    "yuv420p": ("u1", [(1, 1), (2, 2), (2, 2)]),
    "yuvj420p": ("u1", [(1, 1), (2, 2), (2, 2)]),
    "yuv422p": ("u1", [(1, 1), (2, 1), (2, 1)]),
    "yuvj422p": ("u1", [(1, 1), (2, 1), (2, 1)]),
    "yuv444p": ("u1", [(1, 1), (1, 1), (1, 1)]),
    "yuvj444p": ("u1", [(1, 1), (1, 1), (1, 1)]),
    "gbrp": ("u1", [(1, 1), (1, 1), (1, 1)]),
    "yuv420p10le": ("<u2", [(1, 1), (2, 2), (2, 2)]),
    "yuv422p10le": ("<u2", [(1, 1), (2, 1), (2, 1)]),
    "yuv444p10le": ("<u2", [(1, 1), (1, 1), (1, 1)]),
    "yuv420p12le": ("<u2", [(1, 1), (2, 2), (2, 2)]),
    "yuv422p12le": ("<u2", [(1, 1), (2, 1), (2, 1)]),
    "yuv444p12le": ("<u2", [(1, 1), (1, 1), (1, 1)]),
    "yuva444p10le": ("<u2", [(1, 1), (1, 1), (1, 1), (1, 1)]),
    "gbrp10le": ("<u2", [(1, 1), (1, 1), (1, 1)]),
    "gbrp12le": ("<u2", [(1, 1), (1, 1), (1, 1)]),
    "gbrp16le": ("<u2", [(1, 1), (1, 1), (1, 1)]),
    "gbrpf32le": ("<f4", [(1, 1), (1, 1), (1, 1)]),
    "rgb24": ("u1", [(1, 1)]),
    "rgb48le": ("<u2", [(1, 1)]),
}


def planes(path: Path, pix_fmt: str, *, frames: int | None = None) -> Planes:
    """Decode ``path`` with ``ffmpeg`` into ``pix_fmt`` planes (``-f rawvideo``; pass the file's own
    format to see its samples as stored). Packed RGB formats come as one ``(h, w * 3)`` plane."""
    require_tools()
    entry = video(path)
    width, height = int(entry["width"]), int(entry["height"])
    dtype, layout = _LAYOUTS[pix_fmt]
    limit = ["-frames:v", str(frames)] if frames is not None else []
    # Every decoded frame once: the rawvideo muxer would otherwise repeat or drop frames to a
    # constant rate (Matroska's millisecond timestamps of a 29.97 fps video repeat one).
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", *limit, "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"], check=True, capture_output=True).stdout
    data = np.frombuffer(raw, dtype=np.dtype(dtype))
    packed = 3 if pix_fmt in ("rgb24", "rgb48le") else 1
    sizes = [(-(-height // dh), -(-width // dw) * packed) for dw, dh in layout]
    per_frame = sum(h * w for h, w in sizes)
    out: list[list[np.ndarray]] = []
    for start in range(0, len(data) - per_frame + 1, per_frame):
        frame, offset = [], start
        for h, w in sizes:
            frame.append(data[offset:offset + h * w].reshape(h, w))
            offset += h * w
        out.append(frame)
    return Planes(pix_fmt, out)


def ffmpeg(*args: str) -> None:
    """Run ``ffmpeg -y ARGS`` (quiet; raises with its messages on failure)."""
    require_tools()
    result = subprocess.run(["ffmpeg", "-v", "error", "-y", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {result.stderr[-2000:]}")


def _source(size: str, rate: str, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]


def _tone(seconds: float, rate: int = 48000) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}:duration={seconds}"]


def h264_bframes_mp4(path: Path, *, size: str = "160x120", rate: str = "30000/1001", seconds: float = 1.6,
                     audio_rate: int = 48000) -> Path:
    """8-bit 4:2:0 H.264 with B-frames (``-bf 3``, preset medium) and AAC audio, in MP4."""
    ffmpeg(*_source(size, rate, seconds), *_tone(seconds, audio_rate), "-c:v", "libx264", "-preset", "medium",
           "-bf", "3", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


def prores_hq_mov(path: Path, *, size: str = "160x120", rate: str = "25", seconds: float = 1.2) -> Path:
    """10-bit ProRes 422 HQ with SAR 15:16, BT.709 tags (limited range), timecode 01:00:00:00 and
    24-bit PCM audio, in MOV."""
    ffmpeg(*_source(size, rate, seconds), *_tone(seconds), "-vf",
           # prores_ks takes colour tags from the frames only: setparams puts them there.
           "setsar=15/16,setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709",
           "-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", "-timecode", "01:00:00:00",
           "-c:a", "pcm_s24le", "-shortest", str(path))
    return path


def vfr_mkv(path: Path, *, size: str = "160x120", seconds: float = 1.6) -> Path:
    """Variable frame rate in Matroska: 30 fps frames with every third frame's gap doubled
    (x264 with B-frames, AAC audio)."""
    ffmpeg(*_source(size, "30", seconds), *_tone(seconds), "-vf", "setpts='N/30/TB+floor(N/3)/30/TB'",
           "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "medium", "-bf", "2", "-pix_fmt", "yuv420p",
           "-c:a", "aac", str(path))
    return path


def audio_first_mp4(path: Path, *, size: str = "160x120", rate: str = "25", seconds: float = 1.2) -> Path:
    """Audio as stream 0 and video as stream 1 (H.264 with B-frames, AAC), with a creation time
    and stream languages."""
    ffmpeg(*_source(size, rate, seconds), *_tone(seconds), "-map", "1:a", "-map", "0:v", "-c:v", "libx264",
           "-preset", "medium", "-bf", "3", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-metadata", "creation_time=2024-05-06T07:08:09.000000Z", "-metadata:s:a:0", "language=fra",
           "-metadata:s:v:0", "language=eng", "-shortest", str(path))
    return path


def image_sequence(pattern: Path, codec: str, pix_fmt: str, *, first: int = 1001, frames: int = 6,
                   size: str = "96x64", options: tuple[str, ...] = ()) -> Path:
    """An image sequence (``dpx`` 10-bit: pix_fmt ``gbrp10le``; ``exr``: ``gbrpf32le`` with options
    ``("-format", "half")`` or ``("-format", "float")``; ``tiff``/``png``: ``rgb48le``) numbered
    from ``first`` (``pattern`` holds ``%04d``)."""
    ffmpeg(*_source(size, "24", frames / 24), "-frames:v", str(frames), "-c:v", codec, "-pix_fmt", pix_fmt,
           *options, "-start_number", str(first), str(pattern))
    return pattern


def exr_channel_types(path: Path) -> dict[str, str]:
    """The sample type of each channel of an OpenEXR file (``{"R": "half", ...}``), read from its
    header by the file format's specification (Debian's FFmpeg 5.1 decodes half and float alike)."""
    data = path.read_bytes()
    assert data[:4] == b"\x76\x2f\x31\x01", f"{path}: not an OpenEXR file"
    at = 8
    while data[at] != 0:  # attributes: name\0 type\0 int32 size, value
        name_end = data.index(b"\0", at)
        type_end = data.index(b"\0", name_end + 1)
        size = struct.unpack_from("<i", data, type_end + 1)[0]
        value = data[type_end + 5:type_end + 5 + size]
        if data[at:name_end] == b"channels":
            types, offset = {}, 0
            while value[offset] != 0:  # chlist: name\0 int32 type, uint8 linear, 3 reserved, int32 x, y sampling
                end = value.index(b"\0", offset)
                kind = struct.unpack_from("<i", value, end + 1)[0]
                types[value[offset:end].decode()] = {0: "uint", 1: "half", 2: "float"}[kind]
                offset = end + 1 + 16
            return types
        at = type_end + 5 + size
    raise AssertionError(f"{path}: no channels attribute in the OpenEXR header")


def exr_header(path: Path) -> dict[str, tuple[str, bytes]]:
    """Every header attribute of an OpenEXR file, ``name -> (type, value bytes)``, by the file
    format's specification."""
    data = path.read_bytes()
    assert data[:4] == b"\x76\x2f\x31\x01", f"{path}: not an OpenEXR file"
    found, at = {}, 8
    while data[at] != 0:
        name_end = data.index(b"\0", at)
        type_end = data.index(b"\0", name_end + 1)
        size = struct.unpack_from("<i", data, type_end + 1)[0]
        kind, value = data[name_end + 1:type_end].decode(), data[type_end + 5:type_end + 5 + size]
        found[data[at:name_end].decode()] = (kind, value)
        at = type_end + 5 + size
    return found


def rgba_image(path: Path) -> np.ndarray:
    """One RGBA image file decoded by ``ffmpeg`` as ``(H, W, 4)`` float32 (16-bit integers as ``x / 65535``;
    a file without alpha has alpha 1)."""
    entry = video(path)
    width, height = int(entry["width"]), int(entry["height"])
    floating = path.suffix.lower() == ".exr"
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt",
                          "gbrapf32le" if floating else "rgba64le", "-"], check=True, capture_output=True).stdout
    if floating:
        g, b, r, a = np.frombuffer(raw, "<f4").reshape(4, height, width)
        return np.stack([r, g, b, a], axis=-1)
    return np.frombuffer(raw, "<u2").reshape(height, width, 4).astype(np.float32) / 65535


def grey_image(path: Path) -> np.ndarray:
    """One single-channel image file decoded by ``ffmpeg`` as ``(H, W)`` float32."""
    entry = video(path)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "grayf32le", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, "<f4").reshape(int(entry["height"]), int(entry["width"]))


def interlaced_mp4(path: Path, *, size: str = "160x120", rate: str = "25", seconds: float = 1.2) -> Path:
    """Interlaced H.264, top field first (field order ``tt``), with AAC audio, in MP4."""
    ffmpeg(*_source(size, rate, seconds), *_tone(seconds), "-vf", "setfield=tff", "-flags", "+ildct+ilme",
           "-c:v", "libx264", "-preset", "medium", "-x264-params", "tff=1", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(path))
    return path
