"""Join separately encoded runs of a source's frames (no re-encode) and the source's audio into one file.

Each part was written from its exact first frame (as :class:`~vidswap.io.writer.VideoWriter`
does for a range). The join gives every packet the pts of its frame in the rendered range, taken
from the source (:func:`~vidswap.io.writer.range_pts`, the writer's own range timing), never from
the part, whose container may have moved it (NUT starts a part with B-frames at the reorder delay)
or rounded it; so the output has the source's pts (and time base), the start timecode of the
range, and the video tags, stream order and metadata the writer gives (``add_source_streams``
and ``tag_video_stream`` of :mod:`vidswap.io.writer`: a part's container may hold no colour tags)
and the given tags; audio and subtitle packets of the range are copied as the writer
copies them. The file is written under a temporary name and renamed: the output path
never holds a partial file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidswap.errors import MediaError
from vidswap.io.probe import MediaInfo, open_input
from vidswap.io.ranges import FrameRange
from vidswap.io.writer import (
    PacketCopy,
    add_source_streams,
    keep_timestamps,
    range_pts,
    tag_video_stream,
    temporary_path,
)

if TYPE_CHECKING:
    import av.container

__all__ = ["concat_segments"]


def concat_segments(
    files: Sequence[Path],
    ranges: Sequence[FrameRange],
    *,
    info: MediaInfo,
    frames: FrameRange,
    output: Path,
    copy_streams: bool = True,
    metadata: dict[str, str] | None = None,
) -> None:
    """Concatenate segment files into ``output`` with the source's audio of ``frames``.

    Args:
        files: the segment videos, in order.
        ranges: the source frames each holds (consecutive, covering ``frames``).
        info: the probed source.
        frames: the rendered range.
        output: the final file (replaced atomically).
        copy_streams: copy audio and subtitle tracks of the range.
        metadata: container tags to add (provenance).

    Raises:
        MediaError: a segment cannot be read or does not hold its frames.
    """
    import av

    video = info.video
    base = video.time_base
    times = range_pts(info, frames, frame_pts=True)
    temp = temporary_path(output)
    copy: PacketCopy | None = None
    try:
        with av.open(str(temp), "w") as out, av.open(str(files[0])) as first:
            template = first.streams.video[0]
            keep_timestamps(out)

            def add_video() -> Any:
                stream = out.add_stream_from_template(template)
                # The source's tags: a segment's container may not hold them (NUT keeps no colour tags).
                tag_video_stream(stream, video)
                return stream

            with open_input(info.path) as source:
                stream, outputs = add_source_streams(out, source, info, add_video, tracks=copy_streams,
                                                     path=output, dropped=[])
            timecode = times.timecode(info)
            if timecode is not None:
                out.metadata["timecode"] = timecode
            out.metadata.update(metadata or {})
            if outputs:
                copy = PacketCopy(info.path, outputs, times=times, base=base)
            pts = [_frame_pts(path, part, times.frame_pts, times.shift, video.frame_count)
                   for path, part in zip(files, ranges, strict=True)]
            for path, stamps, decode in zip(files, pts, _decode_times(pts), strict=True):
                _copy_segment(path, out, stream, pts=stamps, decode_times=decode, base=base, copy=copy,
                              shift=times.shift)
            if copy is not None:
                copy.until(out, None)
        os.replace(temp, output)
    except av.FFmpegError as err:
        raise MediaError(f"{output}: joining the segments failed ({err}); render the job again") from err
    finally:
        if copy is not None:
            copy.close()
        temp.unlink(missing_ok=True)


def _frame_pts(path: Path, part: FrameRange, frame_pts: Sequence[int], shift: int, count: int) -> list[int]:
    """The output pts of a segment's video packets, in decode order: the packet with the k-th smallest
    pts is the part's k-th frame, whose pts is the source's moved back by the range's ``shift``. Taken
    from the source, not the segment, whose muxer may have moved it (NUT starts at the B-frame delay)
    or rounded it to its own time base."""
    import av

    with av.open(str(path)) as container:
        stored = [p.pts for p in container.demux(container.streams.video[0]) if p.size]
    expected = (count if part.stop is None else part.stop) - part.start
    if len(stored) != expected:
        raise MediaError(f"{path}: holds {len(stored)} frames, expected {expected}; render the job again "
                         f"(the segment is redone)")
    rank = {stamp: k for k, stamp in enumerate(sorted(stored))}
    return [frame_pts[part.start + rank[stamp]] - shift for stamp in stored]


def _decode_times(pts: list[list[int]]) -> list[list[int]]:
    """Decode times for packets whose segments' encoders each started afresh: the sorted pts moved
    back by the deepest reordering of the whole video, so they increase across segment joins and
    never pass a packet's pts (equal to the pts for intra-only codecs such as FFV1 and ProRes)."""
    ordered = [sorted(times) for times in pts]
    delay = max(
        (s - p for times, sort in zip(pts, ordered, strict=True) for s, p in zip(sort, times, strict=True)),
        default=0,
    )
    return [[s - delay for s in sort] for sort in ordered]


def _copy_segment(path: Path, out: av.container.OutputContainer, stream: Any, *, pts: list[int],
                  decode_times: list[int], base: Fraction, copy: PacketCopy | None, shift: int) -> None:
    """Mux one segment's video packets with the output ``pts`` and ``decode_times`` (ticks of ``base``,
    in decode order; each duration moved to ``base`` too), with the audio up to them."""
    import av

    with av.open(str(path)) as container:
        source = container.streams.video[0]
        packets = (packet for packet in container.demux(source) if packet.size)
        for packet, stamp, decode in zip(packets, pts, decode_times, strict=True):
            duration = packet.duration and round(packet.duration * packet.time_base / base)
            packet.stream, packet.time_base = stream, base
            packet.pts, packet.dts, packet.duration = stamp, decode, duration
            out.mux(packet)  # video first, as the writer does: a muxer shifts a file that starts negative
            if copy is not None:
                copy.until(out, (decode + shift) * base)
