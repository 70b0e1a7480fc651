"""Frame-range syntax: parse, print back, check, and turn into frame numbers."""

from __future__ import annotations

import pytest

from vidswap.errors import ConfigError
from vidswap.pipeline.ranges import FrameRangeSpec, Timecode, parse_frame_range


def tc(text: str) -> Timecode:
    hh, mm, ss, ff = (int(text[i:i + 2]) for i in (0, 3, 6, 9))
    return Timecode(hours=hh, minutes=mm, seconds=ss, frames=ff, drop_frame=";" in text)


class TestParseFrameRange:
    @pytest.mark.parametrize(("text", "start", "end"), [
        ("120-480", 120, 480),
        ("120:", 120, None),
        ("120-", 120, None),
        (":480", None, 480),
        ("-480", None, 480),
        ("7", 7, 7),
        (7, 7, 7),
        (" 0 - 5 ", 0, 5),
        ("00:00:04:00-00:00:16:00", tc("00:00:04:00"), tc("00:00:16:00")),
        ("00:00:04:00-", tc("00:00:04:00"), None),
        ("-01:02:03:04", None, tc("01:02:03:04")),
        ("00:01:00;02-00:10:00;00", tc("00:01:00;02"), tc("00:10:00;00")),
    ])
    def test_known_answer(self, text: str | int, start: object, end: object) -> None:
        assert parse_frame_range(text) == FrameRangeSpec(start=start, end=end)

    @pytest.mark.parametrize("text", ["120-480", "120:", ":480", "7", "00:00:04:00-00:00:16:00",
                                      "-00:00:16:00", "00:01:00;02-00:02:00;02"])
    def test_print_then_parse_is_identity(self, text: str) -> None:
        parsed = parse_frame_range(text)
        assert parse_frame_range(str(parsed)) == parsed

    def test_drop_frame_is_marked(self) -> None:
        parsed = parse_frame_range("00:01:00;02-")
        assert parsed.start.drop_frame and parsed.uses_timecode
        assert not parse_frame_range("10-20").uses_timecode

    @pytest.mark.parametrize(("text", "says"), [
        ("", "expected frame numbers"),
        (":", "give a start, an end or both"),
        ("abc", "expected frame numbers"),
        ("120:480", "write 120-480"),
        ("480-120", "start comes after the end"),
        ("1-2-3", "one '-'"),
        ("00:00:04:00-12", "not one of each"),
        ("00:61:00:00", "below 60"),
        ("00:01:00;00", "drop-frame timecode skips frames 00 and 01"),
        ("00:00:05:00;-00:00:06;00", "neither a frame number nor"),
        ("00:00:01:00-00:00:02;10", "both timecodes must be drop-frame"),
        ("00:00:02:00-00:00:01:00", "start comes after the end"),
        (-480, "write \":480\""),
        (True, "expected text"),
        (1.5, "expected text"),
    ])
    def test_exceptions(self, text: object, says: str) -> None:
        with pytest.raises(ConfigError) as info:
            parse_frame_range(text)  # type: ignore[arg-type]
        assert says in str(info.value)


class TestToFrames:
    @pytest.mark.parametrize(("text", "expected"), [
        ("2-4", range(2, 5)), ("5:", range(5, 10)), (":3", range(0, 4)), ("9", range(9, 10)),
    ])
    def test_frame_numbers(self, text: str, expected: range) -> None:
        assert parse_frame_range(text).to_frames(10) == expected

    def test_timecodes_use_the_readers_conversion(self) -> None:
        def frame_of(code: Timecode) -> int:  # 25 frames/s starting at 00:00:00:00
            return (code.minutes * 60 + code.seconds) * 25 + code.frames

        assert parse_frame_range("00:00:01:00-00:00:01:24").to_frames(100, frame_of) == range(25, 50)

    @pytest.mark.parametrize("text", ["5-10", "10:", "00:00:00:00-"])
    def test_exceptions(self, text: str) -> None:
        with pytest.raises(ConfigError):
            parse_frame_range(text).to_frames(10)
