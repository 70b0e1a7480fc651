"""Progress bars for long work: items per second and ETA, drawn on stderr.

:func:`track` wraps a loop; :func:`progress_bar` gives the underlying
:class:`rich.progress.Progress` for work with several tasks. Both take ``get_time`` so tests
can drive the clock, and ``disable`` for scripts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["progress_bar", "track"]

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


def track(items: Iterable[T], *, total: int | None, description: str = "", unit: str = "frames",
          console: Console | None = None, get_time: Callable[[], float] | None = None,
          disable: bool = False) -> Iterator[T]:
    """Yield ``items`` while a progress bar counts them (``total`` None: no ETA)."""
    with progress_bar(unit=unit, console=console, get_time=get_time, disable=disable) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
