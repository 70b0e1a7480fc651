"""SMPTE timecode arithmetic on exact rational rates, via OpenTimelineIO's ``opentime``.

A timecode names a frame: ``HH:MM:SS:FF`` (non-drop) or ``HH:MM:SS;FF`` (drop-frame, only at
29.97 and 59.94, where frame numbers 00 and 01 (00-03 at 59.94) are skipped at each minute but
every tenth). Rates are :class:`fractions.Fraction` (``Fraction(30000, 1001)``, never 29.97),
so frame counts stay exact over hours.
"""

from __future__ import annotations

import re
from fractions import Fraction

import opentimelineio.opentime as opentime

from vidswap.errors import ConfigError

__all__ = [
    "TIMECODE_PATTERN",
    "is_timecode",
    "timecode_rate",
    "frames_from_timecode",
    "timecode_from_frames",
    "shift_timecode",
]

#: A SMPTE timecode; ``;`` (or ``.``) before the frames marks drop-frame.
TIMECODE_PATTERN = re.compile(r"^\d{1,2}:\d{2}:\d{2}[:;.]\d{2,3}$")

# The rates SMPTE timecode is defined for; VFR or odd averages snap to the nearest.
_RATES = tuple(Fraction(r) for r in (24, 25, 30, 48, 50, 60, 72, 96, 100, 120)) + tuple(
    Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120)
)


def is_timecode(text: str) -> bool:
    """Whether ``text`` looks like a SMPTE timecode (``01:00:04:00`` or ``00:01:00;02``)."""
    return bool(TIMECODE_PATTERN.match(text.strip()))


def timecode_rate(rate: Fraction) -> Fraction:
    """The SMPTE timecode rate nearest to a video's frame rate.

    Args:
        rate: frames per second, e.g. ``Fraction(30000, 1001)`` or a VFR average.

    Returns:
        The exact timecode rate, e.g. ``Fraction(30000, 1001)`` for 29.97.

    Example:
        >>> timecode_rate(Fraction(2997, 100))
        Fraction(30000, 1001)
    """
    if rate <= 0:
        raise ConfigError(f"a timecode rate must be positive, got {rate}")
    return min(_RATES, key=lambda r: abs(r - rate))


def frames_from_timecode(timecode: str, rate: Fraction) -> int:
    """The frame number a timecode names, counted from ``00:00:00:00``.

    Args:
        timecode: ``HH:MM:SS:FF`` or drop-frame ``HH:MM:SS;FF``.
        rate: the timecode rate (see :func:`timecode_rate`).

    Example:
        >>> frames_from_timecode("00:01:00;02", Fraction(30000, 1001))
        1800
    """
    text = timecode.strip().replace(".", ";")
    if not is_timecode(text):
        raise ConfigError(
            f"expected a timecode HH:MM:SS:FF (or HH:MM:SS;FF for drop-frame), got {timecode!r}"
        )
    try:
        return int(round(opentime.from_timecode(text, float(rate)).value))
    except ValueError as err:
        raise ConfigError(f"timecode {timecode!r} is not valid at {float(rate):.3f} fps: {err}") from err


def timecode_from_frames(frames: int, rate: Fraction, *, drop_frame: bool | None = None) -> str:
    """The timecode of a frame number.

    Args:
        frames: frame number from ``00:00:00:00``; >= 0.
        rate: the timecode rate.
        drop_frame: write drop-frame (``;``); None means drop-frame at 29.97/59.94.

    Example:
        >>> timecode_from_frames(1800, Fraction(30000, 1001))
        '00:01:00;02'
    """
    if frames < 0:
        raise ConfigError(f"a timecode needs a frame number >= 0, got {frames}")
    return opentime.to_timecode(opentime.RationalTime(frames, float(rate)), float(rate), drop_frame)


def shift_timecode(timecode: str, frames: int, rate: Fraction) -> str:
    """``timecode`` moved by ``frames`` frames, keeping its drop-frame style.

    Example:
        >>> shift_timecode("00:59:59;29", 1, Fraction(30000, 1001))
        '01:00:00;00'
    """
    drop = ";" in timecode or "." in timecode
    return timecode_from_frames(frames_from_timecode(timecode, rate) + frames, rate, drop_frame=drop)
