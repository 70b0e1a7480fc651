"""Join separately encoded runs of a source's frames (no re-encode) and the source's audio into one file.

Each part was written from its exact first frame with timestamps moved to start where the
source starts (as :class:`~vidswap.io.writer.VideoWriter` does for a range). The join moves
every packet back to where its frame lies in the rendered range (:func:`~vidswap.io.writer.range_pts`,
the writer's own range timing), so the output has the source's pts (and time base), the start
timecode of the range, rotation, colour tags (carried by the parts' codec parameters), the
source's metadata and the given tags; audio and subtitle packets of the range are copied as the
writer copies them. The file is written under a temporary name and renamed: the output path
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
from vidswap.io.writer import PacketCopy, kept_metadata, range_pts, temporary_path

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
            stream = out.add_stream_from_template(template)
            stream.time_base = base
            # The frame rate the writer gives its stream: a template from a segment has none, and the
            # MP4/MOV muxer refuses a timecode track without one (EINVAL, "Invalid argument").
            stream.codec_context.framerate = video.rate
            if video.rotation:
                stream.set_display_rotation(video.rotation)
            with open_input(info.path) as source:
                out.metadata.update(kept_metadata(source.metadata))
                stream.metadata.update(kept_metadata(source.streams[video.index].metadata))
                outputs = {}
                for track in source.streams if copy_streams else ():
                    if (
                        track.type in ("audio", "subtitle")
                        and track.codec_context is not None
                        and track.codec_context.name in out.supported_codecs
                    ):
                        outputs[track.index] = out.add_stream_from_template(track)
                        outputs[track.index].metadata.update(kept_metadata(track.metadata))
            timecode = times.timecode(info)
            if timecode is not None:
                out.metadata["timecode"] = timecode
            out.metadata.update(metadata or {})
            if outputs:
                copy = PacketCopy(info.path, outputs, times=times, base=base)
            offsets = [times.offset(part.start) for part in ranges]
            pts = [_pts(path, offset, base) for path, offset in zip(files, offsets, strict=True)]
            dts = _decode_times(pts)
            for path, part, offset, decode in zip(files, ranges, offsets, dts, strict=True):
                count = (video.frame_count if part.stop is None else part.stop) - part.start
                _copy_segment(
                    path,
                    count,
                    out,
                    stream,
                    offset=offset,
                    decode_times=decode,
                    base=base,
                    copy=copy,
                    shift=times.shift,
                )
            if copy is not None:
                copy.until(out, None)
        os.replace(temp, output)
    except av.FFmpegError as err:
        raise MediaError(f"{output}: joining the segments failed ({err}); render the job again") from err
    finally:
        if copy is not None:
            copy.close()
        temp.unlink(missing_ok=True)


def _pts(path: Path, offset: int, base: Fraction) -> list[int]:
    """A segment's video pts in decode order, in ticks of ``base`` moved by ``offset``."""
    import av

    with av.open(str(path)) as container:
        return [
            round(p.pts * p.time_base / base) + offset
            for p in container.demux(container.streams.video[0])
            if p.size
        ]


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


def _copy_segment(
    path: Path,
    frames: int,
    out: av.container.OutputContainer,
    stream: Any,
    *,
    offset: int,
    decode_times: list[int],
    base: Fraction,
    copy: PacketCopy | None,
    shift: int,
) -> None:
    """Mux one segment's ``frames`` video packets, moved by ``offset`` ticks of ``base``, with the audio
    up to them."""
    import av

    count = 0
    with av.open(str(path)) as container:
        source = container.streams.video[0]
        for packet in container.demux(source):
            if not packet.size:
                continue
            pts = round(packet.pts * packet.time_base / base) + offset
            packet.stream, packet.time_base = stream, base
            packet.pts, packet.dts = pts, decode_times[count]
            out.mux(packet)  # video first, as the writer does: a muxer shifts a file that starts negative
            if copy is not None:
                copy.until(out, (decode_times[count] + shift) * base)
            count += 1
    if count != frames:
        raise MediaError(
            f"{path}: holds {count} frames, expected {frames}; render the job again (the segment is redone)"
        )
