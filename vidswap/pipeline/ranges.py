"""Frame-range syntax: ``120-480``, ``120:``, ``:480``, ``00:00:04:00-00:00:16:00``.

This module only checks the *syntax* of a range and returns a typed :class:`FrameRangeSpec`.
Turning timecodes into frame numbers needs the video's rate and start timecode, so that
happens in :mod:`vidswap.io` through :meth:`FrameRangeSpec.to_frames`.

Convention:
    Frame numbers are 0-based indices of decoded frames (frame 0 is the first frame of the
    input). Both ends of a range are inclusive, as in editing and compositing tools. An open
    side (``120:`` or ``:480``, ``00:00:04:00-`` or ``-00:00:16:00``) runs to the end or from
    the start of the input. A timecode is SMPTE ``HH:MM:SS:FF``; a ``;`` anywhere in it marks
    drop-frame (``00:01:00;02``), as used for 29.97 and 59.94 frames/s.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from vidswap.errors import ConfigError

__all__ = ["Timecode", "FrameRangeSpec", "parse_frame_range"]

_TIMECODE = re.compile(r"^(\d{2})([:;])(\d{2})([:;])(\d{2})([:;])(\d{2,3})$")
_NUMBER = re.compile(r"^\d+$")


@dataclass(frozen=True, kw_only=True)
class Timecode:
    """An SMPTE timecode as written; its frame number depends on the video's rate.

    Attributes:
        hours: 0-99.
        minutes: 0-59.
        seconds: 0-59.
        frames: frame within the second, 0-999 (checked against the rate by the reader).
        drop_frame: True for drop-frame timecode (written with ``;``).
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

    def to_frames(self, frame_count: int,
                  frame_of: Callable[[Timecode], int] | None = None) -> range:
        """The 0-based frame numbers this range selects in a video of ``frame_count`` frames.

        Args:
            frame_count: number of frames of the input.
            frame_of: maps a timecode to its 0-based frame number in the input (the reader
                knows the rate and start timecode); needed only when the range uses timecodes.

        Returns:
            ``range(first, last + 1)``.

        Raises:
            ConfigError: the range starts past the last frame or ends past it, or uses
                timecodes and ``frame_of`` is missing.

        Example:
            >>> parse_frame_range("2-4").to_frames(10)
            range(2, 5)
        """
        def number(bound: Bound, default: int) -> int:
            if bound is None:
                return default
            if isinstance(bound, Timecode):
                if frame_of is None:
                    raise ConfigError(f"frame range {self}: timecodes need the video's rate to be "
                                      f"turned into frames")
                return frame_of(bound)
            return bound

        first, last = number(self.start, 0), number(self.end, frame_count - 1)
        if not 0 <= first <= last < frame_count:
            raise ConfigError(f"frame range {self}: selects frames {first}-{last}, but the input "
                              f"has frames 0-{frame_count - 1}")
        return range(first, last + 1)

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
    hh, _, mm, _, ss, _, ff = match.groups()
    return Timecode(hours=int(hh), minutes=int(mm), seconds=int(ss), frames=int(ff),
                    drop_frame=";" in text)


def parse_frame_range(text: str | int) -> FrameRangeSpec:
    """Parse a frame range written as frame numbers or SMPTE timecodes.

    Accepted: ``120`` (one frame), ``120-480``, ``120:``, ``120-``, ``:480``,
    ``00:00:04:00-00:00:16:00``, ``00:00:04:00-``, ``-00:00:16:00``, ``00:01:00;02-00:02:00;02``.

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
    elif text.count(":") == 1 and re.match(r"^\d*:\d*$", text):
        start, end = text.split(":")
        if start and end:
            raise ConfigError(f"frame range {whole!r}: write {start}-{end} (both ends inclusive); "
                              f"':' only marks an open end, as in {start}: or :{end}")
    else:
        raise ConfigError(f"frame range {whole!r}: expected frame numbers (120-480, 120:, :480) "
                          f"or timecodes (00:00:04:00-00:00:16:00)")
    return FrameRangeSpec(start=_bound(start.strip(), whole), end=_bound(end.strip(), whole))
