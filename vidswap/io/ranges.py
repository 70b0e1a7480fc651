"""Frame ranges: which frames of a video to read or render.

Text forms (the last frame is included, as in an edit's in and out points):
``120-480`` and ``120:480`` (frames 120 to 480), ``120:`` / ``120-`` (120 to the end),
``:480`` / ``-480`` (start to 480), and SMPTE timecodes ``00:00:04:00-00:00:16:00``
(drop-frame ``00:00:04;00`` at 29.97/59.94), read against the video's start timecode.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from vidswap.errors import ConfigError
from vidswap.io.timecode import frames_from_timecode, is_timecode

__all__ = ["FrameRange", "parse_frame_range"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FrameRange:
    """Frames ``start <= index < stop`` of a video (0-based decode order of presentation).

    Args:
        start: first frame index, >= 0.
        stop: one past the last frame index; None means to the end of the video.
    """

    start: int = 0
    stop: int | None = None

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ConfigError(f"a frame range starts at frame 0 or later, got start={self.start}")
        if self.stop is not None and self.stop <= self.start:
            raise ConfigError(
                f"a frame range needs at least one frame, got start={self.start} stop={self.stop}"
            )

    @property
    def is_all(self) -> bool:
        """Whether the range is the whole video (from frame 0, open end)."""
        return self.start == 0 and self.stop is None

    @property
    def count(self) -> int:
        """The number of frames of a resolved range (:meth:`resolve`).

        Raises:
            ConfigError: the range has an open end.
        """
        if self.stop is None:
            raise ConfigError(f"frame range {self} runs to the end of the video: resolve it against the video first")
        return self.stop - self.start

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and index >= self.start and (self.stop is None or index < self.stop)

    def resolve(self, frame_count: int, *, source: str = "the video") -> FrameRange:
        """This range with its end filled in, checked against a video of ``frame_count`` frames.

        Raises:
            ConfigError: the range starts or ends past the last frame.
        """
        stop = frame_count if self.stop is None else self.stop
        if self.start >= frame_count or stop > frame_count:
            raise ConfigError(
                f"frame range {self} is outside {source}, which has {frame_count} frames "
                f"(0-{frame_count - 1})"
            )
        return FrameRange(start=self.start, stop=stop)

    def __str__(self) -> str:
        return f"{self.start}-{'' if self.stop is None else self.stop - 1}"


def _frame_number(text: str, *, rate: Fraction | None, start_timecode: str | None) -> int:
    if is_timecode(text):
        if rate is None:
            raise ConfigError(f"timecode {text!r} needs the video's frame rate to become a frame number")
        origin = frames_from_timecode(start_timecode, rate) if start_timecode else 0
        frame = frames_from_timecode(text, rate) - origin
        if frame < 0:
            raise ConfigError(f"timecode {text} is before the video's start timecode {start_timecode}")
        return frame
    if not text.isdigit():
        raise ConfigError(f"expected a frame number or a timecode HH:MM:SS:FF, got {text!r}")
    return int(text)


def parse_frame_range(
    text: str,
    *,
    rate: Fraction | None = None,
    start_timecode: str | None = None,
    frame_count: int | None = None,
) -> FrameRange:
    """Parse a frame range such as ``120-480``, ``120:``, ``:480`` or ``01:00:04:00-01:00:16:00``.

    Args:
        text: the range; both ends are included.
        rate: the video's timecode rate, needed for timecodes (see ``timecode_rate``).
        start_timecode: timecode of the video's first frame; timecodes count from it
            (``00:00:00:00`` when None).
        frame_count: when given, the range is resolved and checked against it.

    Returns:
        The half-open :class:`FrameRange` (``stop`` is one past the last frame).

    Example:
        >>> parse_frame_range("120-480")
        FrameRange(start=120, stop=481)
        >>> parse_frame_range("00:00:01:00-", rate=Fraction(25))
        FrameRange(start=25, stop=None)
    """
    value = text.strip()
    if "-" in value:
        first, _, last = value.partition("-")
    elif not is_timecode(value) and ":" in value:
        first, _, last = value.partition(":")
    else:
        raise ConfigError(f"expected a frame range like 120-480, 120:, :480 or TC-TC, got {text!r}")
    if not first and not last:
        raise ConfigError(f"a frame range needs a start or an end, got {text!r}")
    start = _frame_number(first, rate=rate, start_timecode=start_timecode) if first else 0
    stop = _frame_number(last, rate=rate, start_timecode=start_timecode) + 1 if last else None
    if stop is not None and stop <= start:
        raise ConfigError(f"frame range {text!r} ends before it starts")
    frames = FrameRange(start=start, stop=stop)
    return frames if frame_count is None else frames.resolve(frame_count)
