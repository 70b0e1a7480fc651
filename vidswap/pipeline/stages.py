"""Threaded stages joined by bounded queues.

A stage is a function from an iterator to an iterator (usually a generator), so each one reads
like a plain loop. :func:`chain` runs each stage in its own thread, fed through a bounded queue
by :func:`vidswap.streams.threaded`. Memory is bounded by the queue sizes, never by the
length of the stream. An exception in any stage is re-raised in the consumer with its
traceback, and closing the consumer (``break``, an exception, garbage collection) stops every
thread upstream, so a failed render leaves no thread running.

Example:
    >>> double = lambda items: (2 * x for x in items)
    >>> list(chain(range(5), [double, double], maxsize=2))
    [0, 4, 8, 12, 16]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from vidswap.streams import Threaded, threaded

__all__ = ["Stage", "threaded", "chain"]

#: A pipeline stage: consumes one stream and produces another.
Stage = Callable[[Iterator], Iterator]


def chain(source: Iterable, stages: Iterable[Stage], *, maxsize: int = 8) -> Threaded:
    """Run ``source`` and each stage in its own thread, each fed by the one before.

    Args:
        source: the first stream (e.g. decoded frames).
        stages: functions from an iterator to an iterator, applied in order.
        maxsize: the bound of every queue between two threads.

    Returns:
        An iterator over the last stage's output, to be consumed by the caller's thread.
    """
    stream: Threaded = threaded(source, maxsize=maxsize, name="vidswap-source")
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
