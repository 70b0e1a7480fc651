"""What a media file holds: its video stream, audio and subtitle tracks, timing and metadata.

:func:`probe` opens a file with PyAV (or an image sequence ``shot.%04d.png``) and returns a
:class:`MediaInfo`; :func:`open_input` is the one place that turns a bad input (missing,
empty, not media, truncated, no video, unsupported codec) into a one-line error naming the
file and the problem.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidswap.errors import InputError, MediaError
from vidswap.io.media import IMAGE_SUFFIXES, is_sequence_pattern
from vidswap.io.timecode import timecode_rate

if TYPE_CHECKING:
    import av.container
    import av.video.stream

__all__ = [
    "ColorInfo",
    "VideoInfo",
    "AudioInfo",
    "SubtitleInfo",
    "MediaInfo",
    "probe",
    "open_input",
    "video_stream",
    "packet_timestamps",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ColorInfo:
    """Colour tags of a video, as FFmpeg's enum values (2 = unspecified for the first three).

    Args:
        primaries: AVColorPrimaries (1 = BT.709, 9 = BT.2020).
        transfer: AVColorTransferCharacteristic (1 = BT.709, 16 = PQ, 18 = HLG).
        matrix: AVColorSpace, the YUV matrix (1 = BT.709, 5/6 = BT.601, 9 = BT.2020 NCL).
        range: AVColorRange (0 = unspecified, 1 = limited/TV, 2 = full/PC).
    """

    primaries: int = 2
    transfer: int = 2
    matrix: int = 2
    range: int = 0

    def names(self) -> dict[str, str]:
        """The tags by ffprobe's names (``bt709``, ``smpte170m``, ``tv`` ...); unknown values as numbers."""
        return {
            "primaries": _PRIMARIES.get(self.primaries, str(self.primaries)),
            "transfer": _TRANSFERS.get(self.transfer, str(self.transfer)),
            "matrix": _MATRICES.get(self.matrix, str(self.matrix)),
            "range": _RANGES.get(self.range, str(self.range)),
        }


# FFmpeg's enum values -> the names ffprobe prints (libavutil/pixdesc.c).
_PRIMARIES = {
    1: "bt709",
    2: "unknown",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "film",
    9: "bt2020",
    10: "smpte428",
    11: "smpte431",
    12: "smpte432",
    22: "ebu3213",
}
_TRANSFERS = {
    1: "bt709",
    2: "unknown",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    18: "arib-std-b67",
}
_MATRICES = {
    0: "gbr",
    1: "bt709",
    2: "unknown",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
}
_RANGES = {0: "unknown", 1: "tv", 2: "pc"}


@dataclass(frozen=True, kw_only=True, slots=True)
class VideoInfo:
    """The video stream: geometry, pixel format, timing, rotation, colour.

    ``time_base`` is the stream's tick (pts are integers in it); ``rate`` is the average
    frame rate, exact (``30000/1001``); ``vfr`` says the frame durations vary.
    ``rotation`` is the display rotation in degrees counter-clockwise (PyAV's convention).
    ``sample_aspect_ratio`` is the pixel shape (``15/16``; None: unset, square is assumed);
    ``field_order`` is FFmpeg's AVFieldOrder (0 unknown, 1 progressive, 2 tt, 3 bb, 4 tb, 5 bt).
    """

    index: int
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    time_base: Fraction
    rate: Fraction
    frame_count: int
    vfr: bool
    start_pts: int
    rotation: int
    color: ColorInfo
    sample_aspect_ratio: Fraction | None = None
    field_order: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class AudioInfo:
    """One audio track."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    language: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class SubtitleInfo:
    """One subtitle track."""

    index: int
    codec: str
    language: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class MediaInfo:
    """A probed input: the file (or image-sequence pattern) and its streams.

    ``timecode`` is the SMPTE timecode of the first frame (MOV/MP4 ``tmcd`` track or
    ``timecode`` metadata), None when the file has none.
    """

    path: Path
    format: str
    duration: float
    video: VideoInfo
    audio: tuple[AudioInfo, ...] = ()
    subtitles: tuple[SubtitleInfo, ...] = ()
    timecode: str | None = None
    sequence: tuple[Path, ...] = field(default=(), repr=False)

    @property
    def timecode_rate(self) -> Fraction:
        """The SMPTE rate timecodes of this video count in (e.g. 30000/1001)."""
        return timecode_rate(self.video.rate)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (fractions as ``"30000/1001"`` strings, colour by name)."""
        video = asdict(self.video)
        video.update(
            time_base=str(self.video.time_base),
            rate=str(self.video.rate),
            fps=round(float(self.video.rate), 3),
            color=self.video.color.names(),
            sample_aspect_ratio=None if self.video.sample_aspect_ratio is None else str(self.video.sample_aspect_ratio),
        )
        return {
            "path": str(self.path),
            "format": self.format,
            "duration": round(self.duration, 6),
            "video": video,
            "audio": [asdict(a) for a in self.audio],
            "subtitles": [asdict(s) for s in self.subtitles],
            "timecode": self.timecode,
            "sequence_frames": len(self.sequence) or None,
        }


def open_input(path: str | Path) -> av.container.InputContainer:
    """Open a media file for reading, or raise one clear error naming it.

    Raises:
        InputError: the file is missing or is a folder.
        MediaError: the file is empty or not media FFmpeg can read.
    """
    import av

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise InputError(f"{path}: is a folder, expected a video file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: the file is empty (0 bytes)")
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.FFmpegError as err:
        raise MediaError(
            f"{path}: not a media file FFmpeg can read, or truncated "
            f"({getattr(err, 'strerror', None) or err})"
        ) from err


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The main video stream (cover art excluded), or a :class:`MediaError` naming the file."""
    import av

    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        found = (
            ", ".join(
                f"{s.type} {s.codec_context.name if s.codec_context else '?'}" for s in container.streams
            )
            or "none"
        )
        raise MediaError(f"{path}: has no video stream (streams found: {found}); give a video file")
    stream = videos[0]
    if stream.codec_context is None or stream.codec_context.name in (None, "", "none"):
        raise MediaError(
            f"{path}: unsupported video codec (this FFmpeg has no decoder for it); "
            "transcode it first, e.g. to ProRes or H.264"
        )
    return stream


def packet_timestamps(
    container: av.container.InputContainer, stream: Any, limit: int | None = None
) -> list[int]:
    """Presentation timestamps of a stream's packets, sorted, read by demuxing without decoding.

    Args:
        limit: stop after this many packets (None: the whole file).

    Returns:
        Sorted pts in ``stream.time_base`` ticks (dts where a packet has no pts).
    """
    stamps: list[int] = []
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is not None:
            stamps.append(stamp)
        if limit is not None and len(stamps) >= limit:
            break
    stamps.sort()
    return stamps


def _index_timestamps(stream: Any) -> list[int] | None:
    """Decode timestamps from the container's own index (MP4/MOV: every sample), or None.

    They give the frame count and the frame durations without reading the media data, which
    matters for long ProRes files; containers whose index is sparse (Matroska) return None.
    """
    if not stream.frames:
        return None
    stamps = [entry.timestamp for entry in stream.index_entries if not entry.is_discard]
    return stamps if len(stamps) == stream.frames else None


def _varies(stamps: list[int]) -> bool:
    deltas = [b - a for a, b in itertools.pairwise(stamps)]
    if len(deltas) < 2:
        return False
    # Millisecond time bases (Matroska) round a constant 29.97 fps to 33/34 ticks: not VFR.
    return max(deltas) - min(deltas) > max(2, statistics.median(deltas) // 50)


def _timecode(container: av.container.InputContainer) -> str | None:
    for metadata in [s.metadata for s in container.streams] + [container.metadata]:
        for key, value in metadata.items():
            if key.lower() == "timecode" and value:
                return value
    return None


def _first_frame(container: av.container.InputContainer, stream: Any, path: Path) -> Any:
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as err:
        raise MediaError(
            f"{path}: the video stream cannot be decoded ({err}); the file may be truncated or damaged"
        ) from err
    raise MediaError(f"{path}: the video stream has no decodable frame; the file may be truncated")


def probe(path: str | Path, *, rate: Fraction | None = None) -> MediaInfo:
    """Read what a video file (or image sequence ``shot.%04d.png``) holds.

    Counts frames and checks for variable frame rate from the container's index (MP4/MOV)
    or by demuxing the video packets once (no decoding), and decodes the first frame for
    rotation and colour tags.

    Args:
        path: a video file, or an image-sequence pattern (``%04d``, ``%d`` or ``####``).
        rate: frame rate of an image sequence (default 24); ignored for video files.

    Raises:
        InputError, MediaError: the input is missing or unusable (one line naming it).
    """
    from vidswap.io.codecs import pixel_format_depth

    if is_sequence_pattern(path):
        from vidswap.io.sequence import probe_sequence

        return probe_sequence(path, rate=rate)
    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
        raise MediaError(f"{path}: is a single image, not a video; give a video file, or the frames of a shot as "
                         f"an image sequence pattern such as shot.%04d{path.suffix}")
    with open_input(path) as container:
        stream = video_stream(container, path)
        time_base = stream.time_base or Fraction(1, 90000)
        stamps = _index_timestamps(stream)
        if stamps is None:
            stamps = packet_timestamps(container, stream)
            container.seek(0)
        if not stamps:
            raise MediaError(f"{path}: the video stream holds no frames; the file may be truncated")
        start_pts = stream.start_time if stream.start_time is not None else stamps[0]
        first = _first_frame(container, stream, path)
        ctx = stream.codec_context
        rate_found = stream.average_rate or stream.guessed_rate
        if not rate_found and len(stamps) > 1:
            rate_found = Fraction(len(stamps) - 1) / ((stamps[-1] - stamps[0]) * time_base)
        pix_fmt = first.format.name
        video = VideoInfo(
            index=stream.index,
            codec=ctx.name,
            width=first.width,
            height=first.height,
            pix_fmt=pix_fmt,
            bit_depth=pixel_format_depth(pix_fmt),
            time_base=Fraction(time_base),
            rate=Fraction(rate_found or 25),
            frame_count=len(stamps),
            vfr=_varies(stamps),
            start_pts=start_pts,
            rotation=int(first.rotation or 0),
            color=ColorInfo(
                primaries=int(first.color_primaries),
                transfer=int(first.color_trc),
                matrix=int(first.colorspace),
                range=int(first.color_range),
            ),
            sample_aspect_ratio=Fraction(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else None,
            field_order=int(ctx.field_order or 0),
        )
        audio = tuple(
            AudioInfo(
                index=s.index,
                codec=s.codec_context.name if s.codec_context else "unknown",
                sample_rate=s.sample_rate or 0,
                channels=s.channels or 0,
                language=s.language,
            )
            for s in container.streams.audio
        )
        subtitles = tuple(
            SubtitleInfo(
                index=s.index,
                codec=s.codec_context.name if s.codec_context else "unknown",
                language=s.language,
            )
            for s in container.streams.subtitles
        )
        duration = (
            container.duration / 1_000_000
            if container.duration
            else float((stamps[-1] - stamps[0]) * time_base + 1 / video.rate)
        )
        return MediaInfo(
            path=path,
            format=container.format.name,
            duration=duration,
            video=video,
            audio=audio,
            subtitles=subtitles,
            timecode=_timecode(container),
        )
