"""Test media made with PyAV: small clips with audio, VFR timestamps, rotation, colour tags,
timecode, subtitles, odd sizes, 10-bit and ProRes; and broken files for error tests.

Every frame differs (a moving square and a per-frame level), so a wrong frame is visible
when decoded frames are compared.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = [
    "frame_image",
    "make_clip",
    "make_audio_only",
    "make_unsupported_codec",
    "make_truncated",
    "stream_packets",
    "video_times",
]


def frame_image(index: int, width: int, height: int) -> np.ndarray:
    """A distinct ``(height, width, 3)`` uint8 RGB picture for frame ``index``."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack(
        [
            (x * 255 // max(width - 1, 1)),
            (y * 255 // max(height - 1, 1)),
            np.full_like(x, (index * 37) % 200 + 30),
        ],
        axis=-1,
    ).astype(np.uint8)
    side = max(4, min(width, height) // 4)
    left = (index * 5) % max(width - side, 1)
    image[height // 3 : height // 3 + side, left : left + side] = (255, 255 - (index * 11) % 255, 0)
    return image


def _write_subtitles(path: Path) -> Path:
    srt = path.with_suffix(".srt")
    srt.write_text("1\n00:00:00,000 --> 00:00:00,400\nhello\n\n2\n00:00:00,500 --> 00:00:00,900\nworld\n\n")
    return srt


def make_clip(
    path: Path,
    *,
    frames: int = 24,
    width: int = 64,
    height: int = 48,
    rate: Fraction = Fraction(25),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = True,
    vfr: bool = False,
    rotation: int = 0,
    color: tuple[int, int, int, int] | None = None,
    timecode: str | None = None,
    subtitles: bool = False,
    gop: int = 8,
    b_frames: bool = True,
) -> Path:
    """Encode a test clip.

    Args:
        rate: nominal frame rate; the stream's time base is ``1/(rate*1000)`` ticks
            (``1/90000`` for VFR, whose frame durations cycle through 1x, 1.5x, 0.5x, 2x).
        color: (primaries, transfer, matrix, range) tags set on the stream and every frame.
        timecode: start timecode written to the container (``tmcd`` track in MP4/MOV).
        subtitles: add a subtitle track (SubRip in Matroska, mov_text in MP4/MOV).
        gop: key-frame interval, so seeking has something to do.
    """
    time_base = Fraction(1, 90000) if vfr else 1 / (rate * 1000)
    step = int(1 / (rate * time_base))
    with av.open(str(path), "w") as out:
        if timecode:
            out.metadata["timecode"] = timecode
        video = out.add_stream(codec, rate=rate)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.time_base = time_base
        video.time_base = time_base
        video.codec_context.gop_size = gop
        if codec in ("libx264", "libx265"):
            video.codec_context.max_b_frames = 2 if b_frames else 0
            video.codec_context.options = {
                "preset": "ultrafast" if not b_frames else "veryfast",
                **({"x265-params": "log-level=error"} if codec == "libx265" else {}),
            }
        if color:
            cc = video.codec_context
            cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = color
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=48000, layout="stereo") if audio else None
        if sound is not None:
            sound.metadata["language"] = "fra"
        subs = None
        if subtitles:
            srt = av.open(str(_write_subtitles(path)))
            template = srt.streams.subtitles[0]
            subs = out.add_mux_stream("mov_text" if path.suffix in (".mp4", ".mov") else "subrip")
            subs.time_base = template.time_base
            subs.metadata["language"] = "deu"
        pts = 0
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(index, width, height), format="rgb24")
            matrix, value_range = (color[2], color[3]) if color else (None, None)
            frame = frame.reformat(format=pix_fmt, dst_colorspace=matrix, dst_color_range=value_range)
            if color:
                frame.color_primaries, frame.color_trc, frame.colorspace, frame.color_range = color
            frame.pts, frame.time_base = pts, time_base
            out.mux(video.encode(frame))
            pts += step * (2, 3, 1, 4)[index % 4] // 2 if vfr else step
        out.mux(video.encode(None))
        if sound is not None:
            samples = int(frames / rate * 48000)
            t = np.arange(samples) / 48000
            wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = np.stack([wave[start : start + 1024]] * 2)
                audio_frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(chunk), format="fltp", layout="stereo"
                )
                audio_frame.sample_rate, audio_frame.pts = 48000, start
                out.mux(sound.encode(audio_frame))
            out.mux(sound.encode(None))
        if subs is not None:
            for packet in srt.demux(template):
                if packet.size:
                    out.mux(_retarget(packet, subs, mov_text=path.suffix in (".mp4", ".mov")))
            srt.close()
    return path


def _retarget(packet: av.Packet, stream: av.stream.Stream, *, mov_text: bool) -> av.Packet:
    """A SubRip packet as the output's subtitle format (mov_text prefixes the text's length)."""
    if not mov_text:
        packet.stream = stream
        return packet
    text = bytes(packet)
    new = av.Packet(len(text).to_bytes(2, "big") + text)
    new.pts, new.dts, new.duration, new.time_base = packet.pts, packet.dts, packet.duration, packet.time_base
    new.stream = stream
    return new


def make_audio_only(path: Path) -> Path:
    """An MP4 holding one AAC track and no video."""
    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=48000, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = 48000, 0
        out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    return path


def make_unsupported_codec(path: Path) -> Path:
    """An AVI whose video FourCC no decoder knows (``ZZZZ``), made by patching an MPEG-4 AVI."""
    make_clip(path, frames=4, codec="mpeg4", audio=False, b_frames=False)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"FMP4", b"ZZZZ").replace(b"mp4v", b"ZZZZ"))
    return path


def make_truncated(path: Path) -> Path:
    """An MP4 cut to half its size (its index, written last, is gone)."""
    make_clip(path, frames=24)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def stream_packets(path: Path, kind: str) -> list[tuple[Fraction, bytes]]:
    """``(time in seconds, payload)`` of every non-empty packet of one kind of stream, in file order."""
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == kind]
        if not streams:
            return []
        return [
            (packet.pts * packet.time_base, bytes(packet))
            for packet in container.demux(*streams)
            if packet.size and packet.pts is not None
        ]


def video_times(path: Path) -> list[Fraction]:
    """Presentation times (seconds) of every video packet, sorted."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(p.pts * p.time_base for p in container.demux(stream) if p.size and p.pts is not None)
