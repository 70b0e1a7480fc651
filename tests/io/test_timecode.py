"""Timecode arithmetic: known answers, drop-frame, round trips, errors."""

from __future__ import annotations

from fractions import Fraction

import pytest

from vidswap.errors import ConfigError
from vidswap.io.timecode import (
    frames_from_timecode,
    is_timecode,
    shift_timecode,
    timecode_from_frames,
    timecode_rate,
)

NTSC = Fraction(30000, 1001)


class TestFramesFromTimecode:
    @pytest.mark.parametrize(
        ("timecode", "rate", "frames"),
        [
            ("00:00:01:00", Fraction(25), 25),
            ("01:00:00:00", Fraction(24), 86400),
            ("00:01:00;02", NTSC, 1800),  # drop-frame skips ;00 and ;01 at minute 1
            ("00:10:00;00", NTSC, 17982),  # ... but not at minute 10
            ("00:01:00:00", NTSC, 1800),  # non-drop counts every frame number
            ("00:01:00;04", Fraction(60000, 1001), 3600),
        ],
    )
    def test_known_answer(self, timecode: str, rate: Fraction, frames: int) -> None:
        assert frames_from_timecode(timecode, rate) == frames

    @pytest.mark.parametrize("bad", ["1:2:3", "00:00:01:30", "aa:bb:cc:dd", ""])
    def test_exceptions(self, bad: str) -> None:
        with pytest.raises(ConfigError, match="timecode"):
            frames_from_timecode(bad, Fraction(25))


class TestTimecodeFromFrames:
    @pytest.mark.parametrize(
        "rate", [Fraction(24), Fraction(25), NTSC, Fraction(60000, 1001), Fraction(24000, 1001)]
    )
    def test_round_trip(self, rate: Fraction) -> None:
        for frames in (0, 1, 1799, 1800, 17982, 107892, 123456):
            assert frames_from_timecode(timecode_from_frames(frames, rate), rate) == frames

    def test_drop_frame_style(self) -> None:
        assert timecode_from_frames(1800, NTSC) == "00:01:00;02"
        assert timecode_from_frames(1800, NTSC, drop_frame=False) == "00:01:00:00"

    def test_exceptions(self) -> None:
        with pytest.raises(ConfigError):
            timecode_from_frames(-1, Fraction(25))


class TestShiftTimecode:
    def test_keeps_style(self) -> None:
        assert shift_timecode("00:59:59;29", 1, NTSC) == "01:00:00;00"
        assert shift_timecode("00:59:59:29", 1, NTSC) == "01:00:00:00"
        assert shift_timecode("01:00:00:00", 100, Fraction(25)) == "01:00:04:00"
        # Minute 60 is a tenth minute: no frame numbers are dropped there.
        assert shift_timecode("00:59:59;28", 3, NTSC) == "01:00:00;01"
        assert shift_timecode("00:00:59;29", 1, NTSC) == "00:01:00;02"

    def test_inverse(self) -> None:
        assert shift_timecode(shift_timecode("10:00:00;00", 4321, NTSC), -4321, NTSC) == "10:00:00;00"


class TestTimecodeRate:
    @pytest.mark.parametrize(
        ("rate", "expected"),
        [
            (Fraction(2997, 100), NTSC),
            (Fraction(25), Fraction(25)),
            (Fraction(1200, 59), Fraction(24000, 1001)),
            (Fraction(60), Fraction(60)),
        ],
    )
    def test_snaps(self, rate: Fraction, expected: Fraction) -> None:
        assert timecode_rate(rate) == expected

    def test_exceptions(self) -> None:
        with pytest.raises(ConfigError):
            timecode_rate(Fraction(0))


def test_is_timecode() -> None:
    assert is_timecode("01:00:00:00") and is_timecode("00:01:00;02")
    assert not is_timecode("120") and not is_timecode("120:480")
