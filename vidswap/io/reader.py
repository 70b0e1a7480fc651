"""Streaming video reader: PyAV decoding in its own thread, frames through a bounded queue.

Memory is bounded by ``queue_size`` frames whatever the video's length. A frame range is
reached by seeking to the key frame before its first frame (found by demuxing timestamps
only, no decoding) and decoding forward from there, so the first frame yielded is exactly
frame ``start`` of a sequential decode.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from vidswap.errors import ConfigError, MediaError
from vidswap.io.color import conversion
from vidswap.io.planes import Picture, held_format
from vidswap.io.probe import MediaInfo, open_input, packet_timestamps, probe, video_stream
from vidswap.io.ranges import FrameRange
from vidswap.io.scale import convert
from vidswap.streams import Threaded, threaded

__all__ = ["Frame", "NativeFrame", "VideoReader", "upright", "stored", "stored_points", "REORDER_MARGIN"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Frames a decoder may hold back for reordering (H.264/HEVC allow 16): demux this many
# packets past the range start before the timestamps of the frames up to it are certain.
REORDER_MARGIN = 32


@dataclass(frozen=True, kw_only=True, slots=True)
class Frame:
    """One decoded frame.

    Args:
        index: frame number in presentation order, 0 = first frame of the video.
        pts: presentation timestamp in the video stream's ``time_base`` ticks.
        time: ``pts * time_base`` in seconds.
        rgb: pixels, ``(H, W, 3)`` uint8 RGB in [0, 255], as stored, or upright when the reader
            turns them (``turn_upright``, :func:`upright`).
    """

    index: int
    pts: int
    time: float
    rgb: np.ndarray


@dataclass(frozen=True, kw_only=True, slots=True)
class NativeFrame:
    """One decoded frame in its own pixel format, as stored (:meth:`VideoReader.pictures`).

    Args:
        index: frame number in presentation order, 0 = first frame of the video.
        pts: presentation timestamp in the video stream's ``time_base`` ticks.
        time: ``pts * time_base`` in seconds.
        picture: the frame's planes (an image sequence's: packed RGB).
    """

    index: int
    pts: int
    time: float
    picture: Picture


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Stored pixels turned as a player shows them (``rotation``: degrees counter-clockwise)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def stored(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The inverse of :func:`upright`: upright pixels turned back to the stored orientation."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, -turns)) if turns else rgb


def stored_points(points: np.ndarray, rotation: int, *, width: int, height: int) -> np.ndarray:
    """Points (``(..., 2)`` x, y pixels, centres at integers) of the upright picture (:func:`upright`)
    at the same pixels of the stored one (``width`` x ``height``, as stored)."""
    out = np.array(points, dtype=np.float32, copy=True)
    # Undo one counter-clockwise quarter turn at a time, the last first: a point (x, y) of a turned
    # picture is (w - 1 - y, x) of the picture before the turn (w: that picture's width).
    for turn in range((rotation // 90) % 4, 0, -1):
        before = width if (turn - 1) % 2 == 0 else height
        x, y = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0], out[..., 1] = before - 1 - y, x
    return out


class VideoReader:
    """Iterate over a video's frames (or an image sequence's), decoded in a background thread.

    Example::

        with VideoReader("shot.mov", frames=FrameRange(start=120, stop=481)) as reader:
            for frame in reader:
                ...  # frame.index, frame.pts, frame.rgb

    or, for the frames in their own pixel format, ``for frame in reader.pictures()`` (a
    :class:`NativeFrame`: ``frame.picture``).

    Args:
        path: a video file or an image-sequence pattern (``shot.%04d.png``).
        frames: the frames to read; None reads all. Checked against the video.
        queue_size: decoded frames held ahead of the consumer, >= 1 (bounds memory).
        threads: decoder threads, 0 lets FFmpeg choose.
        turn_upright: yield pixels turned by the rotation metadata (see :func:`upright`); an image
            sequence has none (its frames are read as stored, whatever EXIF tag they carry).
        rate: frame rate of an image sequence (default 24).
        info: the input already probed (:func:`~vidswap.io.probe.probe` of ``path``), so a
            caller that opens many readers of one file probes it once; None probes it here.

    Attributes:
        info: the probed input (:class:`~vidswap.io.probe.MediaInfo`).
        frames: the resolved range (``stop`` filled in).
        skipped: frames decoded and dropped to reach ``frames.start`` after the seek.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        frames: FrameRange | None = None,
        queue_size: int = 8,
        threads: int = 0,
        turn_upright: bool = False,
        rate: Fraction | None = None,
        info: MediaInfo | None = None,
    ) -> None:
        if queue_size < 1:
            raise ConfigError(f"queue_size must be >= 1, got {queue_size}")
        self.info: MediaInfo = info if info is not None else probe(path, rate=rate)
        self.frames = (frames or FrameRange()).resolve(
            self.info.video.frame_count, source=str(self.info.path)
        )
        self.skipped = 0
        self._threads = threads
        self._turn = self.info.video.rotation if turn_upright else 0
        self._queue_size = queue_size
        self._stream: Threaded[Any] | None = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        color = conversion(self.info.video.color, height=self.info.video.height, pix_fmt=self.info.video.pix_fmt)

        def rgb(index: int, pts: int, frame: Any) -> Frame:
            from vidswap.io.sequence import read_image

            pixels = read_image(frame, orient=False) if isinstance(frame, Path) else convert(
                frame, "rgb24", src_colorspace=color.matrix, src_color_range=color.range).to_ndarray()
            return Frame(index=index, pts=pts, time=self._time(pts), rgb=upright(pixels, self._turn))

        return self._start(rgb)

    def pictures(self) -> Iterator[NativeFrame]:
        """Iterate over the frames in their own pixel format, as stored (never turned; the
        reader's ``turn_upright`` is for :meth:`__iter__`'s RGB). A format not held plane by plane
        is held as its planar equivalent (:func:`~vidswap.io.planes.held_format`); one that
        cannot be held without loss is said once, as a warning."""
        name, lossless = held_format(self.info.video.pix_fmt)
        if not lossless:
            log.warning("%s: pix_fmt %s is held as %s, which may change its samples",
                        self.info.path, self.info.video.pix_fmt, name)

        def native(index: int, pts: int, frame: Any) -> NativeFrame:
            from vidswap.io.sequence import read_native

            # An image sequence's file: packed RGB at its own depth (rgb24, rgb48le or rgbf32le).
            picture = Picture.from_rgb(read_native(frame)) if isinstance(frame, Path) else Picture.from_frame(frame)
            return NativeFrame(index=index, pts=pts, time=self._time(pts), picture=picture)

        return self._start(native)

    def _start(self, make: Callable[[int, int, Any], _T]) -> Iterator[_T]:
        """The frames, decoded in a thread and made by ``make(index, pts, av frame or image file)``."""
        if self._stream is not None:
            raise MediaError(
                f"{self.info.path}: a VideoReader is iterated once; open a new one to read again"
            )
        source = self._sequence_frames() if self.info.sequence else self._video_frames()
        stream = threaded((make(index, pts, frame) for index, pts, frame in source), maxsize=self._queue_size,
                          name="vidswap-decode")
        self._stream = stream
        return stream

    def _time(self, pts: int) -> float:
        return float(pts * self.info.video.time_base)

    def close(self) -> None:
        """Stop the decode thread and free its frames (safe to call twice)."""
        if self._stream is not None:
            self._stream.close()

    # -- decode thread -------------------------------------------------------------------

    def _sequence_frames(self) -> Iterator[tuple[int, int, Path]]:
        start, stop = self.frames.start, self.frames.stop
        for index, file in enumerate(self.info.sequence[start:stop], start=start):
            yield index, index, file

    def _video_frames(self) -> Iterator[tuple[int, int, Any]]:
        import av

        path, video = self.info.path, self.info.video
        start = self.frames.start
        stop = self.frames.stop if self.frames.stop is not None else video.frame_count
        index = start
        with open_input(path) as container:
            stream = video_stream(container, path)
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self._threads
            target = -(2**62)  # from the first frame, whatever its pts
            if start > 0:
                target = packet_timestamps(container, stream, limit=start + 1 + REORDER_MARGIN)[start]
                container.seek(target, stream=stream, backward=True, any_frame=False)
            try:
                decoded = container.decode(stream)
                first = next(decoded, None)
                if first is not None and start > 0 and _pts(first) > target:
                    # The container seeked past the key frame before the range: decode from the top.
                    container.seek(0)
                    decoded = container.decode(stream)
                    first = next(decoded, None)
                for frame in itertools.chain([first] if first is not None else [], decoded):
                    pts = _pts(frame)
                    if pts < target:
                        self.skipped += 1
                        continue
                    if index >= stop:
                        return
                    yield index, pts, frame
                    index += 1
            except av.FFmpegError as err:
                raise MediaError(
                    f"{path}: decoding failed at frame {index} ({err}); the file may be damaged"
                ) from err
        if index < stop:
            raise MediaError(
                f"{path}: expected {stop} frames, the video stream ended after {index}; "
                "the file may be truncated"
            )


def _pts(frame: Any) -> int:
    """A decoded frame's timestamp (its dts where the container gives no pts)."""
    stamp = frame.pts if frame.pts is not None else frame.dts
    return stamp if stamp is not None else -(2**62)
