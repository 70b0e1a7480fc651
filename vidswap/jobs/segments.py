"""Segment planning: a job's frames cut into runs of a fixed number of frames.

Each segment is encoded on its own (a closed GOP starting with a key frame at its first
frame), so segments render in any order, on any machine, and a frame range touches only the
segments that hold its frames.

Convention: frame indices are the input's (0 = its first frame); ``stop`` is exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidswap.errors import ConfigError
from vidswap.io.ranges import FrameRange

__all__ = ["Segment", "plan_segments", "touched", "parse_segment_range"]


@dataclass(frozen=True, kw_only=True)
class Segment:
    """One segment of a job.

    Attributes:
        index: its number (0 = the first segment of the rendered range).
        start: its first frame (input index).
        stop: one past its last frame.
    """

    index: int
    start: int
    stop: int

    @property
    def frames(self) -> FrameRange:
        """Its frames as a range."""
        return FrameRange(start=self.start, stop=self.stop)

    @property
    def name(self) -> str:
        """Its file stem in the job's ``segments/`` folder (``00012``)."""
        return f"{self.index:05d}"


def plan_segments(frames: FrameRange, size: int) -> list[Segment]:
    """Cut ``frames`` (resolved: ``stop`` set) into segments of ``size`` frames (the last may be shorter).

    Example:
        >>> [(s.start, s.stop) for s in plan_segments(FrameRange(start=10, stop=25), 6)]
        [(10, 16), (16, 22), (22, 25)]
    """
    if size < 1:
        raise ConfigError(f"segment size: expected a whole number of frames >= 1, found {size}")
    if frames.stop is None:
        raise ConfigError(f"frame range {frames}: resolve it against the video before planning segments")
    starts = range(frames.start, frames.stop, size)
    return [Segment(index=i, start=s, stop=min(s + size, frames.stop)) for i, s in enumerate(starts)]


def touched(segments: list[Segment], frames: FrameRange) -> list[Segment]:
    """The segments that hold at least one frame of ``frames``."""
    stop = frames.stop if frames.stop is not None else max(s.stop for s in segments)
    return [s for s in segments if s.start < stop and frames.start < s.stop]


def parse_segment_range(text: str, count: int) -> range:
    """``"10-19"`` (inclusive), ``"10:"``, ``":5"`` or ``"7"`` -> segment numbers, checked against ``count``.

    Raises:
        ConfigError: not a range, or outside ``0..count-1``.
    """
    try:
        if "-" in text or ":" in text:
            first, last = text.replace(":", "-", 1).split("-", 1)
            start = int(first) if first else 0
            stop = int(last) + 1 if last else count
        else:
            start = int(text)
            stop = start + 1
    except ValueError as err:
        raise ConfigError(f"segments {text!r}: expected N, N-M, N: or :M (segment numbers)",
                          setting="segments") from err
    if not 0 <= start < stop <= count:
        raise ConfigError(f"segments {text!r}: the job has segments 0-{count - 1}", setting="segments")
    return range(start, stop)
