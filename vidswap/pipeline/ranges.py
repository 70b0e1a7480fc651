"""Frame-range syntax: ``120-480``, ``120:``, ``:480``, ``00:00:04:00-00:00:16:00``.

This module only checks the *syntax* of a range (when a pipeline is loaded, before any video
is opened) and returns a typed :class:`FrameRangeSpec`. Turning timecodes into frame numbers
needs the video's rate and start timecode: :meth:`FrameRangeSpec.resolve` hands the range to
:func:`vidswap.io.ranges.parse_frame_range`, the one place that arithmetic lives.

Convention:
    Frame numbers are 0-based indices of decoded frames (frame 0 is the first frame of the
    input). Both ends of a range are inclusive, as in editing and compositing tools
    (``120-480`` and ``120:480`` are the same frames). An open side (``120:``, ``:480``,
    ``00:00:04:00-``, ``-00:00:16:00``) runs to the end or from the start of the input. A
    timecode is SMPTE ``HH:MM:SS:FF``; ``;`` (or ``.``) before the frames marks drop-frame
    (``00:01:00;02``), as used at 29.97 and 59.94 frames/s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from vidswap.errors import ConfigError

if TYPE_CHECKING:
    from vidswap.io.ranges import FrameRange

__all__ = ["Timecode", "FrameRangeSpec", "parse_frame_range"]

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.])(\d{2,3})$")
_NUMBER = re.compile(r"^\d+$")


@dataclass(frozen=True, kw_only=True)
class Timecode:
    """An SMPTE timecode as written; its frame number depends on the video's rate.

    Attributes:
        hours: 0-99.
        minutes: 0-59.
        seconds: 0-59.
        frames: frame within the second, 0-999 (checked against the rate by the reader).
        drop_frame: True for drop-frame timecode (written with ``;`` or ``.``).
    """

    hours: int
    minutes: int
    seconds: int
    frames: int
    drop_frame: bool = False

    def __post_init__(self) -> None:
        if not (0 <= self.hours <= 99 and 0 <= self.minutes <= 59 and 0 <= self.seconds <= 59
                and 0 <= self.frames <= 999):
            raise ConfigError(f"timecode {self}: expected HH:MM:SS:FF with minutes and seconds "
                              f"below 60")
        # Drop-frame skips frame labels 0 and 1 at each minute not divisible by ten (and 0-3 at
        # 59.94), so these labels never exist whatever the rate.
        if self.drop_frame and self.seconds == 0 and self.frames < 2 and self.minutes % 10:
            raise ConfigError(f"timecode {self}: drop-frame timecode skips frames 00 and 01 at the "
                              f"start of every minute except each tenth; use {self.hours:02d}:"
                              f"{self.minutes:02d}:00;02")

    @property
    def fields(self) -> tuple[int, int, int, int]:
        """(hours, minutes, seconds, frames), for ordering timecodes of one rate."""
        return (self.hours, self.minutes, self.seconds, self.frames)

    def __str__(self) -> str:
        sep = ";" if self.drop_frame else ":"
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{sep}{self.frames:02d}"


Bound = int | Timecode | None


@dataclass(frozen=True, kw_only=True)
class FrameRangeSpec:
    """A range of frames as the user wrote it: frame numbers or timecodes, inclusive ends.

    Attributes:
        start: first frame (0-based frame number or timecode); None = the input's first frame.
        end: last frame, inclusive; None = the input's last frame.
    """

    start: Bound = None
    end: Bound = None

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ConfigError("frame range: give a start, an end or both (omit the range to "
                              "process every frame)")
        kinds = {type(b) for b in (self.start, self.end) if b is not None}
        if len(kinds) > 1:
            raise ConfigError(f"frame range {self}: use frame numbers on both ends or timecodes "
                              f"on both ends, not one of each")
        for bound in (self.start, self.end):
            if isinstance(bound, bool) or (isinstance(bound, int) and bound < 0):
                raise ConfigError(f"frame range: expected a frame number >= 0, found {bound!r}")
        if isinstance(self.start, Timecode) and isinstance(self.end, Timecode):
            if self.start.drop_frame != self.end.drop_frame:
                raise ConfigError(f"frame range {self}: both timecodes must be drop-frame (;) or "
                                  f"both non-drop (:)")
            if self.start.fields > self.end.fields:
                raise ConfigError(f"frame range {self}: the start comes after the end")
        elif isinstance(self.start, int) and isinstance(self.end, int) and self.start > self.end:
            raise ConfigError(f"frame range {self}: the start comes after the end")

    @property
    def uses_timecode(self) -> bool:
        """True when the ends are timecodes (conversion needs the video's rate)."""
        return isinstance(self.start, Timecode) or isinstance(self.end, Timecode)

    def resolve(self, *, frame_count: int, rate: Fraction | None = None,
                start_timecode: str | None = None) -> FrameRange:
        """The frames this range selects in a video, as the reader and writer take them.

        Args:
            frame_count: number of frames of the input.
            rate: the input's timecode rate (``vidswap.io.timecode_rate``); needed for timecodes.
            start_timecode: timecode of the input's first frame; None = ``00:00:00:00``.

        Returns:
            The half-open :class:`vidswap.io.ranges.FrameRange`, checked against ``frame_count``.

        Raises:
            ConfigError: the range lies outside the input, or uses timecodes without a rate.

        Example:
            >>> parse_frame_range("2:4").resolve(frame_count=10)
            FrameRange(start=2, stop=5)
        """
        from vidswap.io.ranges import parse_frame_range as frames_of

        start = "" if self.start is None else str(self.start)
        end = "" if self.end is None else str(self.end)
        return frames_of(f"{start}-{end}", rate=rate, start_timecode=start_timecode,
                         frame_count=frame_count)

    def __str__(self) -> str:
        start = "" if self.start is None else str(self.start)
        end = "" if self.end is None else str(self.end)
        if self.start is not None and self.start == self.end:
            return start
        if self.uses_timecode or (self.start is not None and self.end is not None):
            return f"{start}-{end}"
        return f"{start}:{end}"


def _bound(text: str, whole: str) -> Bound:
    if not text:
        return None
    if _NUMBER.match(text):
        return int(text)
    match = _TIMECODE.match(text)
    if match is None:
        raise ConfigError(f"frame range {whole!r}: {text!r} is neither a frame number nor an "
                          f"HH:MM:SS:FF timecode")
    hh, mm, ss, sep, ff = match.groups()
    return Timecode(hours=int(hh), minutes=int(mm), seconds=int(ss), frames=int(ff),
                    drop_frame=sep in ";.")


def parse_frame_range(text: str | int) -> FrameRangeSpec:
    """Parse a frame range written as frame numbers or SMPTE timecodes.

    Accepted: ``120`` (one frame), ``120-480``, ``120:480``, ``120:``, ``120-``, ``:480``,
    ``-480``, ``00:00:04:00-00:00:16:00``, ``00:00:04:00-``, ``-00:00:16:00``,
    ``00:01:00;02-00:02:00;02`` (the forms :func:`vidswap.io.ranges.parse_frame_range` reads).

    Args:
        text: the range; an int is a single frame.

    Returns:
        The typed range (ends inclusive, 0-based frame numbers).

    Raises:
        ConfigError: the syntax is wrong, the start comes after the end, or the ends mix frame
            numbers and timecodes.

    Example:
        >>> parse_frame_range("120:")
        FrameRangeSpec(start=120, end=None)
    """
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ConfigError(f"frame range: expected text such as '120-480', found {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ConfigError(f"frame range: {text} is negative; for frames up to {-text} write "
                              f"\":{-text}\" (quoted in YAML)")
        return FrameRangeSpec(start=text, end=text)
    whole = text
    text = text.strip()
    if text.count("-") == 1:
        start, end = text.split("-")
    elif "-" in text:
        raise ConfigError(f"frame range {whole!r}: expected START-END with one '-'")
    elif _NUMBER.match(text) or _TIMECODE.match(text):
        start = end = text
    elif re.match(r"^\d*:\d*$", text):
        start, end = text.split(":")
    else:
        raise ConfigError(f"frame range {whole!r}: expected frame numbers (120-480, 120:, :480) "
                          f"or timecodes (00:00:04:00-00:00:16:00)")
    return FrameRangeSpec(start=_bound(start.strip(), whole), end=_bound(end.strip(), whole))
