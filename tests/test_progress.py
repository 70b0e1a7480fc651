"""Progress bars: counts, rate and ETA with a driven clock."""

from __future__ import annotations

import io

from rich.console import Console

from vidswap.progress import track


class MockClock:
    """A clock that moves only when the test calls ``tick``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class TestTrack:
    def test_yields_every_item(self) -> None:
        console = Console(file=io.StringIO(), force_terminal=False)
        assert list(track(range(7), total=7, console=console)) == list(range(7))

    def test_reports_rate_and_count(self) -> None:
        out = io.StringIO()
        console = Console(file=out, force_terminal=True, width=120)
        clock = MockClock()
        for _ in track(range(50), total=50, description="swap", console=console, get_time=clock):
            clock.tick(0.5)  # 2 frames/s
        text = out.getvalue()
        assert "50/50" in text
        assert "2.0 frames/s" in text

    def test_disabled_prints_nothing(self) -> None:
        out = io.StringIO()
        console = Console(file=out, force_terminal=True)
        assert sum(track(range(5), total=5, console=console, disable=True)) == 10
        assert out.getvalue() == ""


class TestMeter:
    def test_off_a_terminal_a_line_every_few_seconds(self) -> None:
        """In a log (no TTY) a plain line with count, rate and ETA comes every ``every`` seconds and
        at the end, not only when the work is done."""
        from vidswap.progress import Meter

        out = io.StringIO()
        clock = MockClock()
        with Meter(100, description="render", console=Console(file=out, force_terminal=False), get_time=clock,
                   every=5.0) as meter:
            for _ in range(100):
                clock.tick(0.25)  # 4 frames/s
                meter.advance()
        lines = out.getvalue().splitlines()
        assert len(lines) == 6  # at 5, 10, 15, 20 s, the 25 s tick, and the end
        assert lines[0] == "render: 20/100 frames, 4.0 frames/s, 0:00:05 elapsed, ETA 0:00:20"
        assert lines[-1].startswith("render: 100/100 frames, 4.0 frames/s")
