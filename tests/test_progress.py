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
