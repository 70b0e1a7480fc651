"""Streaming video writer: encode frames, copy audio and subtitles packet for packet.

What the writer keeps from the source (``like``): every frame's pts and the stream's time
base (variable frame rate survives; Matroska is told not to shift streams, so the video still
starts where the source's does beside AAC priming), rotation, colour tags (primaries, transfer,
matrix, range), pixel aspect, field order, the start timecode (moved to the first written frame),
the order of the streams, their metadata (languages, handler names, creation time), and every
audio packet (and subtitle packet where the container takes the codec) without re-encoding.
What a container cannot keep is logged as one warning line. When a frame range
is rendered, only the audio of that range is copied and every timestamp moves by the same
amount, so sync holds. The file is written under a temporary name in the output's folder
and renamed when complete; on an error nothing is left at the output path.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidswap.errors import ConfigError, InputError, MediaError, OutputExistsError
from vidswap.io.codecs import EncodeSettings, ResolvedEncode, resolve_encode
from vidswap.io.color import conversion
from vidswap.io.media import VIDEO_OUTPUT_SUFFIXES
from vidswap.io.planes import Picture, reformat
from vidswap.io.probe import MediaInfo, VideoInfo, open_input, packet_timestamps, video_stream
from vidswap.io.ranges import FrameRange
from vidswap.io.reader import REORDER_MARGIN, VideoReader, stored
from vidswap.io.timecode import shift_timecode

if TYPE_CHECKING:
    import av.container
    import av.video.stream

__all__ = [
    "VideoWriter",
    "PacketCopy",
    "RangePts",
    "range_pts",
    "kept_metadata",
    "temporary_path",
    "TEMPORARY",
    "stale_temporaries",
    "stale_temporaries_in",
    "check_output",
    "keep_timestamps",
    "tag_video_stream",
    "add_source_streams",
]

log = logging.getLogger(__name__)


def temporary_path(path: Path) -> Path:
    """A unique temporary name beside ``path`` with the same extension (so the format is known)."""
    return path.with_name(f".{path.stem}.vidswap-tmp-{uuid.uuid4().hex[:8]}{path.suffix}")


#: The names :func:`temporary_path` makes: ``.STEM.vidswap-tmp-XXXXXXXX.SUFFIX``.
TEMPORARY = re.compile(r"\.(?P<stem>.+)\.vidswap-tmp-[0-9a-f]{8}(?P<suffix>\.[^.]+)?")


def stale_temporaries(path: Path) -> list[Path]:
    """The temporaries :func:`temporary_path` made for ``path`` that are still there (a killed
    writer's): regular files only, never a link or a folder, never another file."""
    folder = path.parent
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p for p in folder.iterdir() if _temporary_of(p, path.stem, (path.suffix,)))


def _temporary_of(entry: Path, stem: str | re.Pattern[str], suffixes: tuple[str, ...]) -> bool:
    """Whether ``entry`` is a plain file named as a temporary of ``stem`` (a name or a pattern)
    with one of ``suffixes``."""
    match = TEMPORARY.fullmatch(entry.name)
    if match is None or (match["suffix"] or "") not in suffixes or entry.is_symlink() or not entry.is_file():
        return False
    return re.fullmatch(stem, match["stem"]) is not None if isinstance(stem, re.Pattern) else match["stem"] == stem


def stale_temporaries_in(folder: Path, stem: re.Pattern[str], suffixes: tuple[str, ...]) -> list[Path]:
    """The temporaries in ``folder`` of the files whose stem matches ``stem`` and whose extension
    is one of ``suffixes`` (e.g. a job's segments); plain files only, nothing through a link."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p for p in folder.iterdir() if _temporary_of(p, stem, suffixes))


def check_output(path: Path, *, source: Path | None, overwrite: bool) -> None:
    """Refuse an output that is the input, or exists without ``overwrite``.

    Raises:
        OutputExistsError: the output is the source (always refused) or exists.
        InputError: the output's folder does not exist.
    """
    if source is not None and (
        path.resolve() == source.resolve()
        or (path.exists() and source.exists() and os.path.samefile(path, source))
    ):
        raise OutputExistsError(f"{path}: is the input video; write the output to another file")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: exists; with overwrite it is replaced", setting="overwrite")
    if not path.parent.is_dir():
        raise InputError(f"{path}: output folder {path.parent} does not exist; create it first")


def keep_timestamps(output: av.container.OutputContainer) -> None:
    """Make ``output`` store the timestamps it is given. Matroska's muxer otherwise moves every stream
    so that the earliest packet (an AAC priming packet: -21 ms at 48 kHz, -64 ms at 16 kHz) starts at
    0, so the video starts that late; its blocks hold negative times. MP4/MOV keep them (edit lists)."""
    if "matroska" in output.format.name:
        output.container_options["avoid_negative_ts"] = "disabled"


#: x264's field order for each interlaced AVFieldOrder (2 tt, 3 bb, 4 tb, 5 bt): the field shown first.
_FIELD_FIRST = {2: "tff", 3: "bff", 4: "bff", 5: "tff"}


def _code_fields(stream: Any, codec: str, field_order: int) -> None:
    """Have x264 code an interlaced source's frames as interlaced, in its field order: H.264 says
    the order in its stream (MP4 has no other place for it). Other encoders code progressive
    pictures, so the field order is only the container's tag (:func:`_losses`)."""
    import av.codec.context

    first = _FIELD_FIRST.get(field_order)
    if first is not None and codec == "libx264":
        stream.codec_context.flags |= av.codec.context.Flags.interlaced_dct | av.codec.context.Flags.interlaced_me
        stream.codec_context.options["x264-params"] = f"{first}=1"


def tag_video_stream(stream: Any, video: VideoInfo) -> None:
    """Give an output video stream the source's time base, frame rate, colour tags, pixel shape,
    field order and rotation (the writer's encoder stream, or the join's copied one)."""
    stream.time_base = video.time_base
    context = stream.codec_context
    context.framerate = video.rate  # the MP4/MOV muxer refuses a timecode track without one
    color = video.color
    context.color_primaries, context.color_trc = color.primaries, color.transfer
    context.colorspace, context.color_range = color.matrix, color.range
    if video.sample_aspect_ratio is not None:
        context.sample_aspect_ratio = video.sample_aspect_ratio
    context.field_order = video.field_order
    if video.rotation:
        stream.set_display_rotation(video.rotation)


def add_source_streams(output: av.container.OutputContainer, source: av.container.InputContainer, info: MediaInfo,
                       add_video: Callable[[], Any], *, tracks: bool, path: Path,
                       dropped: list[str]) -> tuple[Any, dict[int, Any]]:
    """Add the output's streams in the source's order (an audio-first file stays audio-first): the
    video from ``add_video``, and (when ``tracks``) a copy of each audio and subtitle track the
    container holds; each with the source stream's metadata and disposition, the file's metadata too.
    A track the container cannot hold is named in ``dropped`` and logged; so is metadata it loses.

    Returns:
        The video stream, and the output stream of each copied source stream index.
    """
    output.metadata.update(kept_metadata(source.metadata))
    video: Any = None
    outputs: dict[int, Any] = {}
    for track in source.streams:
        if track.index == info.video.index:
            video = add_video()
            copied = video
        elif not tracks or track.type not in ("audio", "subtitle"):
            continue  # data tracks (tmcd) are rebuilt from metadata by the muxer
        else:
            codec = track.codec_context.name if track.codec_context else "unknown"
            if codec not in output.supported_codecs:
                dropped.append(f"{track.type} track {track.index} ({codec}): {output.format.name} cannot hold it")
                log.warning("%s: not copying %s", path, dropped[-1])
                continue
            copied = outputs[track.index] = output.add_stream_from_template(track)
        copied.metadata.update(kept_metadata(track.metadata))
        copied.disposition = track.disposition
    for loss in _losses(output.format.name, video.codec_context.name, source, info):
        log.warning("%s: %s", path, loss)
    return video, outputs


def _losses(container: str, codec: str, source: av.container.InputContainer, info: MediaInfo) -> list[str]:
    """What an output of ``container`` with the video ``codec`` cannot keep of ``source`` (one line
    each, for the run-time warning)."""
    losses = []
    first = _FIELD_FIRST.get(info.video.field_order)
    if first is not None and codec not in ("libx264", "h264") and container in ("mp4", "ipod"):
        losses.append(f"{codec} codes progressive pictures and MP4 has no field-order tag: the source's field "
                      f"order ({first} first) is lost; use .mov or .mkv, or libx264")
    if "matroska" not in container:
        return losses
    if any("creation_time" in {key.lower() for key in track.metadata} for track in source.streams):
        losses.append("Matroska keeps no per-stream creation_time (the file's creation_time is kept)")
    aspect = info.video.sample_aspect_ratio
    if aspect is not None and aspect != 1:
        losses.append(f"the pixel aspect {aspect.numerator}:{aspect.denominator} is not written as Matroska's "
                      f"display size (PyAV cannot set it): only codecs that store it themselves keep it (H.264, "
                      f"HEVC, ProRes; not FFV1); use .mov or .mp4 to keep it")
    return losses


class PacketCopy:
    """Copies the source's audio/subtitle packets of a range into the output, in step with the video.

    Packets with a time in the range (from its first frame's pts, unbounded for a range from
    frame 0, to the pts of the frame after it) are muxed with their timestamps moved back by
    the range's shift; :meth:`until` copies those before a time.

    Args:
        source: the source file.
        outputs: output stream for each copied source stream index.
        times: where the range lies in the source's video pts (ticks of ``base``).
        base: the source video's time base.
    """

    def __init__(self, source: Path, outputs: dict[int, Any], *, times: RangePts, base: Fraction) -> None:
        self.container = open_input(source)
        self.outputs = outputs
        start = times.first * base if times.start > 0 else None
        self.start, self.end = start, None if times.end is None else times.end * base
        self.shift = times.shift * base
        if start is not None:
            # Seek a second early: some containers (Matroska) seek to a cluster by the video's
            # key frame, and audio muxed ahead of the video must not be missed.
            self.container.seek(max(0, int((start - 1) * 1_000_000)), backward=True)  # AV_TIME_BASE units
        self.packets: Iterator[Any] = self.container.demux(*(self.container.streams[i] for i in outputs))
        self.pending: Any = None

    def until(self, output: av.container.OutputContainer, time: Fraction | None) -> None:
        """Mux source packets before ``time`` seconds (None: all that remain in range)."""
        while True:
            packet = self.pending if self.pending is not None else next(self.packets, None)
            self.pending = None
            if packet is None:
                return
            stamp = packet.pts if packet.pts is not None else packet.dts
            if packet.size == 0 or stamp is None:
                continue
            at = stamp * packet.time_base
            if time is not None and at >= time:
                self.pending = packet
                return
            if (self.start is not None and at < self.start) or (self.end is not None and at >= self.end):
                continue
            if (
                packet.size == 2
                and packet.stream.codec_context.name == "mov_text"
                and bytes(packet) == b"\0\0"
            ):
                continue  # an empty mov_text sample filling a gap: the MP4 muxer writes its own
            offset = round(self.shift / packet.time_base)
            packet.pts = None if packet.pts is None else packet.pts - offset
            packet.dts = None if packet.dts is None else packet.dts - offset
            packet.stream = self.outputs[packet.stream.index]
            output.mux(packet)

    def close(self) -> None:
        self.container.close()


class VideoWriter:
    """Encode RGB frames into a video that keeps the source's timing, metadata and audio.

    Example::

        with VideoReader(src) as reader, VideoWriter(out, like=reader) as writer:
            for frame in reader:
                writer.write(frame.pts, frame.rgb)

    A second writer for a soft matte reuses the same timing: pass the same ``like`` and
    ``frames``, ``settings=EncodeSettings.matte()``, ``copy_streams=False``, an ``.mkv``
    path, and write ``(H, W)`` uint8 greyscale with the same pts.

    Args:
        path: the output file; its extension picks the container (.mp4, .mov, .mkv).
        like: the source (a :class:`VideoReader` or its probed :class:`MediaInfo`).
        settings: how to encode the video.
        frames: the source frames being written (None: all, or the reader's range when
            ``like`` is a reader); selects the audio copied and moves timestamps and timecode
            so the output starts at its first frame.
        overwrite: replace an existing output (the input itself is never replaced).
        copy_streams: copy the source's audio and subtitle tracks.
        turn_upright: RGB and greyscale images come turned upright (``VideoReader(turn_upright=True)``);
            turn them back so the rotation metadata still applies (a picture is always as stored).
        metadata: container tags to add (e.g. ``comment``: provenance of synthetic content).

    Attributes:
        dropped: source tracks not copied, with the reason.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        like: MediaInfo | VideoReader,
        settings: EncodeSettings | None = None,
        frames: FrameRange | None = None,
        overwrite: bool = False,
        copy_streams: bool = True,
        turn_upright: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> None:
        import av

        self.path = Path(path)
        if isinstance(like, VideoReader):
            self.info, frames = like.info, frames or like.frames
        else:
            self.info = like
        video = self.info.video
        self.settings = settings or EncodeSettings()
        self.frames = (frames or FrameRange()).resolve(video.frame_count, source=str(self.info.path))
        check_output(self.path, source=None if self.info.sequence else self.info.path, overwrite=overwrite)
        self.dropped: list[str] = []
        self._turn = video.rotation if turn_upright else 0
        self._convert = conversion(video.color, height=video.height, pix_fmt=video.pix_fmt)
        self._times = range_pts(self.info, self.frames)
        self._last_pts: int | None = None
        self._copy: PacketCopy | None = None
        self._temp = temporary_path(self.path)
        self._output: av.container.OutputContainer | None = None  # None once closed
        try:
            output = self._output = av.open(str(self._temp), "w")
            keep_timestamps(output)
        except (av.FFmpegError, ValueError) as err:
            raise MediaError(
                f"{self.path}: cannot write this kind of file ({err}); use {', '.join(VIDEO_OUTPUT_SUFFIXES)}"
            ) from err
        try:
            self.encode: ResolvedEncode = resolve_encode(
                self.settings,
                source_pix_fmt=video.pix_fmt,
                container_codecs=output.supported_codecs,
                size=(video.width, video.height),
                output=str(self.path),
            )
            if self.info.sequence:
                self._stream = self._add_video(output)
            else:
                self._add_copies(output, tracks=copy_streams)
            timecode = self._times.timecode(self.info)
            if timecode is not None:
                output.metadata["timecode"] = timecode
            output.metadata.update(metadata or {})
        except BaseException:
            self.abort()
            raise

    def _add_video(self, output: av.container.OutputContainer) -> av.video.stream.VideoStream:
        import av.video.stream

        video, encode = self.info.video, self.encode
        stream = output.add_stream(encode.codec, rate=video.rate, options=dict(encode.options))
        assert isinstance(stream, av.video.stream.VideoStream)  # resolve_encode picks video codecs only
        _code_fields(stream, encode.codec, video.field_order)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, encode.pix_fmt
        # The encoder's time base must be the source's, or timestamps drift (and VFR is lost).
        stream.codec_context.time_base = video.time_base
        stream.codec_context.thread_count = self.settings.threads
        tag_video_stream(stream, video)
        return stream

    def _add_copies(self, output: av.container.OutputContainer, *, tracks: bool) -> None:
        """Add the video and (when ``tracks``) the audio and subtitle tracks to copy, in the source's
        order, with the source's metadata (file and streams)."""
        with open_input(self.info.path) as source:
            self._stream, outputs = add_source_streams(output, source, self.info, lambda: self._add_video(output),
                                                       tracks=tracks, path=self.path, dropped=self.dropped)
        if outputs:
            base = self.info.video.time_base
            self._copy = PacketCopy(self.info.path, outputs, times=self._times, base=base)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, pts: int, image: Picture | np.ndarray) -> None:
        """Encode one frame.

        Args:
            pts: the source frame's pts (``Frame.pts``), increasing from call to call.
            image: a :class:`~vidswap.io.planes.Picture` in the source's size, as stored (written
                as it is where the encoder takes its format, else converted by swscale with the
                source's matrix and range); or an ``(H, W, 3)`` uint8 RGB image, or ``(H, W)``
                uint8 greyscale for a matte (turned upright when ``turn_upright``).
        """
        import av

        video, output = self.info.video, self._open()
        if self._last_pts is not None and pts <= self._last_pts:
            raise ConfigError(
                f"{self.path}: frames must come in presentation order; pts {pts} after {self._last_pts}"
            )
        if pts < self._times.first:
            raise ConfigError(
                f"{self.path}: pts {pts} is before the first frame of range {self.frames} "
                f"(pts {self._times.first})"
            )
        picture = image if isinstance(image, Picture) else self._picture(image)
        if (picture.height, picture.width) != (video.height, video.width):
            raise ConfigError(
                f"{self.path}: expected {video.width}x{video.height} frames, got {picture.width}x{picture.height}"
            )
        # As it is where the encoder takes the picture's format; else (the user's codec takes
        # another, e.g. a 10-bit source into yuv420p) swscale, told the source's matrix and range.
        frame = reformat(picture, self.encode.pix_fmt, self._convert)
        # Tag every frame too: some encoders (prores_ks) ignore the codec context's colour tags.
        color = video.color
        frame.color_primaries, frame.color_trc = color.primaries, color.transfer
        frame.colorspace, frame.color_range = color.matrix, color.range
        frame.pts = pts - self._times.shift
        frame.time_base = video.time_base
        self._last_pts = pts
        try:
            output.mux(self._stream.encode(frame))
            if self._copy is not None:
                self._copy.until(output, pts * video.time_base)
        except av.FFmpegError as err:
            raise MediaError(f"{self.path}: encoding failed at pts {pts} ({err})") from err

    def _picture(self, image: np.ndarray) -> Picture:
        """An 8-bit RGB or greyscale image (turned back to the stored orientation) as a picture."""
        video = self.info.video
        image = stored(image, self._turn)
        gray = image.ndim == 2
        if (
            image.dtype != np.uint8
            or image.shape[:2] != (video.height, video.width)
            or not (gray or image.shape[2] == 3)
        ):
            raise ConfigError(
                f"{self.path}: expected ({video.height}, {video.width}, 3) or "
                f"({video.height}, {video.width}) uint8, got {image.shape} {image.dtype}"
            )
        return Picture("gray", (np.ascontiguousarray(image),)) if gray else Picture.from_rgb(image)

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio, and move the file into place."""
        import av

        output = self._output
        if output is None:
            return
        try:
            if self._last_pts is None:
                raise MediaError(f"{self.path}: no frame was written; nothing to save")
            output.mux(self._stream.encode(None))
            if self._copy is not None:
                self._copy.until(output, None)
            output.close()
            self._output = None
        except BaseException as err:
            self.abort()
            if isinstance(err, av.FFmpegError):
                raise MediaError(f"{self.path}: finishing the file failed ({err})") from err
            raise
        finally:
            if self._copy is not None:
                self._copy.close()
        os.replace(self._temp, self.path)

    def _open(self) -> av.container.OutputContainer:
        """The output being written.

        Raises:
            ConfigError: the writer was closed or aborted.
        """
        if self._output is None:
            raise ConfigError(f"{self.path}: the writer is closed; open a new one to write more frames")
        return self._output

    def abort(self) -> None:
        """Stop writing and delete the temporary file; nothing appears at the output path."""
        if self._copy is not None:
            self._copy.close()
        if self._output is not None:
            try:
                self._output.close()
            except Exception:  # the file is being thrown away; its closing error does not matter
                pass
            self._output = None
        self._temp.unlink(missing_ok=True)


# Tags the muxer writes itself (or that describe the old encode): never copied.
_OWN_TAGS = (
    "encoder",
    "major_brand",
    "minor_version",
    "compatible_brands",
    "timecode",
    "duration",
    "bps",
    "number_of_",
    "_statistics_",
    "vendor_id",
)


def kept_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """Metadata worth carrying over (language, title, handler, creation time ...)."""
    return {key: value for key, value in metadata.items() if not key.lower().startswith(_OWN_TAGS)}


@dataclass(frozen=True)
class RangePts:
    """Where a frame range lies in the source's video pts (its time base's ticks; frame indices
    for an image sequence).

    Attributes:
        start: the range's first frame (index).
        first: its first frame's pts (``-2**62`` for the whole video: no frame lies before it).
        end: the pts of the frame after it (None: it runs to the end).
        shift: the ticks that move its first frame to the source's first pts (0 for the whole video).
        frame_pts: the sorted pts of frames 0 up to the range's end, when asked for (:meth:`offset`).
    """

    start: int
    first: int
    end: int | None
    shift: int
    frame_pts: Sequence[int] = ()

    def offset(self, frame: int) -> int:
        """Ticks from the range's first frame to ``frame`` (a frame of the range; needs ``frame_pts``)."""
        return self.frame_pts[frame] - self.frame_pts[self.start]

    def timecode(self, info: MediaInfo) -> str | None:
        """The source's start timecode moved to the range's first frame (None: the source has none)."""
        if not info.timecode:
            return None
        rate = info.timecode_rate
        return shift_timecode(info.timecode, round(self.shift * info.video.time_base * rate), rate)


def range_pts(info: MediaInfo, frames: FrameRange, *, frame_pts: bool = False) -> RangePts:
    """Where ``frames`` lie in ``info``'s video pts.

    Args:
        frame_pts: keep every frame's pts up to the range's end (for :meth:`RangePts.offset`);
            without it the whole video's timestamps are not read.
    """
    video = info.video
    stop = frames.stop if frames.stop is not None else video.frame_count
    end_open = stop >= video.frame_count
    if info.sequence:
        return RangePts(frames.start, frames.start, None if end_open else stop, frames.start, range(stop + 1))
    if frames.start == 0 and end_open and not frame_pts:
        return RangePts(0, -(2**62), None, 0)  # everything, timestamps as they are
    with open_input(info.path) as container:
        stamps = packet_timestamps(
            container, video_stream(container, info.path), limit=stop + 1 + REORDER_MARGIN
        )
    if frames.start == 0 and end_open:
        return RangePts(0, -(2**62), None, 0, stamps)
    return RangePts(
        frames.start,
        stamps[frames.start],
        None if end_open else stamps[stop],
        stamps[frames.start] - stamps[0],
        stamps,
    )
