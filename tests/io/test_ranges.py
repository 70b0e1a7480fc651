"""Frame ranges: text forms, timecodes against a start timecode, validation."""

from __future__ import annotations

from fractions import Fraction

import pytest

from vidswap.errors import ConfigError
from vidswap.io.ranges import FrameRange, parse_frame_range


class TestParseFrameRange:
    @pytest.mark.parametrize(
        ("text", "start", "stop"),
        [
            ("120-480", 120, 481),
            ("120:480", 120, 481),
            ("120:", 120, None),
            ("120-", 120, None),
            (":480", 0, 481),
            ("-480", 0, 481),
            (" 7-7 ", 7, 8),
        ],
    )
    def test_numbers(self, text: str, start: int, stop: int | None) -> None:
        assert parse_frame_range(text) == FrameRange(start=start, stop=stop)

    def test_timecodes(self) -> None:
        frames = parse_frame_range("00:00:04:00-00:00:16:00", rate=Fraction(25))
        assert frames == FrameRange(start=100, stop=401)

    def test_timecodes_count_from_start_timecode(self) -> None:
        frames = parse_frame_range("01:00:01:00-", rate=Fraction(24), start_timecode="01:00:00:00")
        assert frames == FrameRange(start=24, stop=None)

    def test_drop_frame(self) -> None:
        frames = parse_frame_range("00:01:00;02-00:01:00;03", rate=Fraction(30000, 1001))
        assert frames == FrameRange(start=1800, stop=1802)

    def test_resolved_against_video(self) -> None:
        assert parse_frame_range("5:", frame_count=10) == FrameRange(start=5, stop=10)

    @pytest.mark.parametrize(
        ("text", "kwargs", "match"),
        [
            ("480-120", {}, "ends before"),
            ("abc", {}, "frame range"),
            ("-", {}, "start or an end"),
            ("1x-5", {}, "frame number"),
            ("00:00:01:00-00:00:02:00", {}, "frame rate"),
            (
                "00:00:00:00-",
                {"rate": Fraction(24), "start_timecode": "01:00:00:00"},
                "before the video's start",
            ),
            ("5-20", {"frame_count": 10}, "has 10 frames"),
            ("10:", {"frame_count": 10}, "has 10 frames"),
        ],
    )
    def test_exceptions(self, text: str, kwargs: dict, match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            parse_frame_range(text, **kwargs)


class TestFrameRange:
    def test_contains_and_str(self) -> None:
        frames = FrameRange(start=2, stop=5)
        assert [i for i in range(8) if i in frames] == [2, 3, 4]
        assert str(frames) == "2-4" and str(FrameRange(start=3)) == "3-"

    def test_is_all(self) -> None:
        assert FrameRange().is_all and not FrameRange(start=1).is_all

    @pytest.mark.parametrize(("start", "stop"), [(-1, None), (5, 5), (5, 2)])
    def test_exceptions(self, start: int, stop: int | None) -> None:
        with pytest.raises(ConfigError):
            FrameRange(start=start, stop=stop)
