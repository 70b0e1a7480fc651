"""Threaded stages joined by bounded queues.

A stage is a function from an iterator to an iterator (usually a generator), so each one reads
like a plain loop. :func:`threaded` runs one iterator in its own thread behind a bounded queue;
:func:`chain` builds a pipeline of them. Memory is bounded by the queue sizes, never by the
length of the stream. An exception in any stage is re-raised in the consumer with its
traceback, and closing the consumer (``break``, an exception, garbage collection) stops every
thread upstream, so a failed render leaves no thread running.

Example:
    >>> double = lambda items: (2 * x for x in items)
    >>> list(chain(range(5), [double, double], maxsize=2))
    [0, 4, 8, 12, 16]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["Stage", "threaded", "chain"]

T = TypeVar("T")

#: A pipeline stage: consumes one stream and produces another.
Stage = Callable[[Iterator], Iterator]

_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone


class _End:
    """Marks the end of a stream; carries the producer's exception, if any."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def threaded(items: Iterable[T], *, maxsize: int = 8, name: str = "vidswap-stage") -> Iterator[T]:
    """Iterate ``items`` in a background thread, handing items over through a bounded queue.

    Args:
        items: any iterable; it is iterated (and closed, if it is a generator) in the thread.
        maxsize: how many items may wait in the queue; the producer blocks when it is full.
        name: the thread's name, shown in tracebacks and debuggers.

    Returns:
        An iterator over the same items, in order. Closing it early stops the thread.
    """
    if maxsize < 1:
        raise ValueError(f"maxsize must be >= 1, got {maxsize}")
    handoff: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    break
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, re-raised there
            put(_End(err))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        put(_End())

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    return _consume(handoff, stop, thread)


def _consume(handoff: queue.Queue, stop: threading.Event, thread: threading.Thread) -> Iterator:
    try:
        while True:
            item = handoff.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()


def chain(source: Iterable, stages: Iterable[Stage], *, maxsize: int = 8) -> Iterator:
    """Run ``source`` and each stage in its own thread, each fed by the one before.

    Args:
        source: the first stream (e.g. decoded frames).
        stages: functions from an iterator to an iterator, applied in order.
        maxsize: the bound of every queue between two threads.

    Returns:
        An iterator over the last stage's output, to be consumed by the caller's thread.
    """
    stream: Iterator = threaded(source, maxsize=maxsize, name="vidswap-source")
    for index, stage in enumerate(stages):
        stream = threaded(_closing_upstream(stage, stream), maxsize=maxsize,
                          name=f"vidswap-{getattr(stage, '__name__', f'stage{index}')}")
    return stream


def _closing_upstream(stage: Stage, upstream: Iterator) -> Iterator:
    """Run ``stage`` on ``upstream`` and close ``upstream`` when the stage ends, however it
    ends, so a failing stage also stops the threads that feed it."""
    try:
        yield from stage(upstream)
    finally:
        close = getattr(upstream, "close", None)
        if close is not None:
            close()
