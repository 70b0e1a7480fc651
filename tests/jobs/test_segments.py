"""Segment planning: cuts, which segments a range touches, --segments parsing."""

from __future__ import annotations

import pytest

from vidswap.errors import ConfigError
from vidswap.io.ranges import FrameRange
from vidswap.jobs.segments import parse_segment_range, plan_segments, touched


class TestPlanSegments:
    @pytest.mark.parametrize(("start", "stop", "size"), [(0, 10, 3), (5, 6, 4), (7, 31, 8), (0, 48, 48)])
    def test_cover_the_range_once_in_order(self, start: int, stop: int, size: int) -> None:
        segments = plan_segments(FrameRange(start=start, stop=stop), size)
        frames = [i for s in segments for i in range(s.start, s.stop)]
        assert frames == list(range(start, stop))
        assert [s.index for s in segments] == list(range(len(segments)))
        assert all(s.stop - s.start == size for s in segments[:-1])
        assert 0 < segments[-1].stop - segments[-1].start <= size

    def test_exceptions(self) -> None:
        with pytest.raises(ConfigError, match=">= 1"):
            plan_segments(FrameRange(start=0, stop=5), 0)
        with pytest.raises(ConfigError, match="resolve it"):
            plan_segments(FrameRange(), 4)


class TestTouched:
    def test_only_segments_holding_a_frame(self) -> None:
        segments = plan_segments(FrameRange(start=0, stop=40), 10)
        assert [s.index for s in touched(segments, FrameRange(start=9, stop=21))] == [0, 1, 2]
        assert [s.index for s in touched(segments, FrameRange(start=10, stop=20))] == [1]
        assert [s.index for s in touched(segments, FrameRange(start=35))] == [3]


class TestParseSegmentRange:
    @pytest.mark.parametrize(("text", "want"), [("3", range(3, 4)), ("2-4", range(2, 5)), ("5:", range(5, 8)),
                                                (":1", range(0, 2)), ("0-7", range(0, 8))])
    def test_forms(self, text: str, want: range) -> None:
        assert parse_segment_range(text, 8) == want

    @pytest.mark.parametrize("text", ["x", "3-99", "8", "4-2"])
    def test_exceptions(self, text: str) -> None:
        with pytest.raises(ConfigError, match=f"^segments '{text}': ") as raised:
            parse_segment_range(text, 8)
        assert raised.value.setting == "segments"  # the CLI names its option, --segments
