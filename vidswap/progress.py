"""Progress for long work: items per second and ETA, on stderr.

:class:`Meter` counts work against a total: a live bar on a terminal, and off one (a log, a
farm's job output) a plain line every few seconds, since a bar redrawn in place would reach a
log only at the end. :func:`track` wraps a loop with a meter; :func:`progress_bar` gives a rich
:class:`rich.progress.Progress` for work with several tasks. All take ``get_time`` so tests can
drive the clock, and ``disable`` for scripts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["progress_bar", "Meter", "track"]

T = TypeVar("T")


def progress_bar(*, unit: str = "frames", console: Console | None = None,
                 get_time: Callable[[], float] | None = None, disable: bool = False) -> Progress:
    """A bar showing done/total, ``unit``/s, elapsed time and ETA (stderr by default)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("?" if speed is None else f"{speed:.1f} {unit}/s")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console if console is not None else Console(stderr=True),
        get_time=get_time,
        disable=disable,
        redirect_stdout=False,
        redirect_stderr=False,
    )


class Meter:
    """Counts work done against a total: a bar on a terminal, a plain line every ``every`` seconds
    (and one at the end) elsewhere, each with the count, the rate and the ETA.

    Args:
        total: the work to do (None: no ETA).
        description: what is counted (``render``).
        unit: the unit of the work (``frames``).
        every: seconds between plain lines off a terminal.
        console: where to draw (default: stderr).
        get_time: the clock (default: ``time.monotonic``).
        disable: count silently.
    """

    def __init__(self, total: int | None, *, description: str = "", unit: str = "frames", every: float = 5.0,
                 console: Console | None = None, get_time: Callable[[], float] | None = None,
                 disable: bool = False) -> None:
        from rich.console import Console

        self.total, self.description, self.unit, self.every = total, description, unit, every
        self.done = 0
        self._console = console if console is not None else Console(stderr=True)
        self._clock = get_time or time.monotonic
        self._disable = disable
        self._bar: Progress | None = None
        self._task: Any = None
        self._started = self._last = 0.0

    def __enter__(self) -> Meter:
        self._started = self._last = self._clock()
        if not self._disable and self._console.is_terminal:
            self._bar = progress_bar(unit=self.unit, console=self._console, get_time=self._clock)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.description, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
        elif not self._disable and self.done:
            self._line()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more done."""
        self.done += count
        if self._bar is not None:
            self._bar.advance(self._task, count)
        elif not self._disable and self._clock() - self._last >= self.every:
            self._line()

    def _line(self) -> None:
        now = self._clock()
        self._last = now
        elapsed = now - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        total = "" if self.total is None else f"/{self.total}"
        eta = ""
        if self.total is not None and rate > 0:
            eta = f", ETA {_clock_text((self.total - self.done) / rate)}"
        self._console.print(f"{self.description.strip()}: {self.done}{total} {self.unit}, {rate:.1f} {self.unit}/s, "
                            f"{_clock_text(elapsed)} elapsed{eta}", highlight=False, markup=False)


def _clock_text(seconds: float) -> str:
    """``H:MM:SS``."""
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def track(items: Iterable[T], *, total: int | None, description: str = "", unit: str = "frames",
          console: Console | None = None, get_time: Callable[[], float] | None = None,
          disable: bool = False) -> Iterator[T]:
    """Yield ``items`` while a :class:`Meter` counts them (``total`` None: no ETA)."""
    with Meter(total, description=description, unit=unit, console=console, get_time=get_time,
               disable=disable) as meter:
        for item in items:
            yield item
            meter.advance()
