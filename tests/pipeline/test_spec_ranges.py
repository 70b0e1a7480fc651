"""Frame-range syntax: parse, print back, check, and turn into frame numbers."""

from __future__ import annotations

from fractions import Fraction

import pytest

from vidswap.errors import ConfigError
from vidswap.io.ranges import FrameRange
from vidswap.io.ranges import parse_frame_range as io_parse_frame_range
from vidswap.pipeline.ranges import FrameRangeSpec, Timecode, parse_frame_range


def tc(text: str) -> Timecode:
    hh, mm, ss, ff = (int(text[i:i + 2]) for i in (0, 3, 6, 9))
    return Timecode(hours=hh, minutes=mm, seconds=ss, frames=ff, drop_frame=";" in text)


class TestParseFrameRange:
    @pytest.mark.parametrize(("text", "start", "end"), [
        ("120-480", 120, 480),
        ("120:480", 120, 480),
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
        ("00:01:00.02-", tc("00:01:00;02"), None),
        ("1:00:00:00-", tc("01:00:00:00"), None),
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
        ("1:2:3", "expected frame numbers"),
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


class TestResolve:
    @pytest.mark.parametrize(("text", "start", "stop"), [
        ("2-4", 2, 5), ("5:", 5, 10), (":3", 0, 4), ("9", 9, 10),
    ])
    def test_frame_numbers(self, text: str, start: int, stop: int) -> None:
        assert parse_frame_range(text).resolve(frame_count=10) == FrameRange(start=start, stop=stop)

    def test_timecodes_count_from_the_start_timecode(self) -> None:
        spec = parse_frame_range("01:00:01:00-01:00:01:24")
        frames = spec.resolve(frame_count=100, rate=Fraction(25), start_timecode="01:00:00:00")
        assert frames == FrameRange(start=25, stop=50)

    @pytest.mark.parametrize("text", ["120-480", "120:480", "120:", "-480", ":480", "7",
                                      "00:00:04:00-00:00:16:00", "00:00:04:00-", "-00:00:16:00",
                                      "00:01:00;02-00:02:00;02", "00:01:00.02-"])
    def test_same_frames_as_the_readers_parser(self, text: str) -> None:
        rate = Fraction(30000, 1001)
        expected = io_parse_frame_range(text if text != "7" else "7-7", rate=rate,
                                        frame_count=10000)
        assert parse_frame_range(text).resolve(frame_count=10000, rate=rate) == expected

    @pytest.mark.parametrize("text", ["5-10", "10:", "00:00:00:00-"])
    def test_exceptions(self, text: str) -> None:
        with pytest.raises(ConfigError):
            parse_frame_range(text).resolve(frame_count=10)
