"""Iterators run in a background thread behind a bounded queue.

The decoder, the pipeline's stages and the encoder each run in their own thread so the device
never waits on I/O; :func:`threaded` is the one piece of code that does that hand-over. Memory is
bounded by the queue size, never by the length of the stream; an exception in the thread is
re-raised in the consumer; closing the consumer stops the thread and closes the source.

Example:
    >>> stream = threaded(iter(range(5)), maxsize=2)
    >>> list(stream)
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["Threaded", "threaded"]

T = TypeVar("T")

_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone


class _End:
    """Marks the end of a stream; carries the producer's exception, if any."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class Threaded(Iterator[T], Generic[T]):
    """An iterator whose items are produced by a background thread (see :func:`threaded`).

    The thread holds no reference to this object, so dropping the iterator (garbage
    collection) also stops the thread.
    """

    def __init__(self, items: Iterable[T], *, maxsize: int, name: str) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=_produce, args=(items, self._queue, self._stop),
                                        name=name, daemon=True)
        self._thread.start()

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if isinstance(item, _End):
            self.close()
            if item.error is not None:
                raise item.error
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the thread (it closes its source) and wait for it; safe to call twice."""
        self._done = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __del__(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()


def _put(handoff: queue.Queue, stop: threading.Event, item: object) -> bool:
    """Put ``item`` unless the consumer has gone; False when it has."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _produce(items: Iterable, handoff: queue.Queue, stop: threading.Event) -> None:
    iterator = iter(items)
    try:
        for item in iterator:
            if not _put(handoff, stop, item):
                break
        else:
            _put(handoff, stop, _End())
    except BaseException as err:  # noqa: BLE001 - handed to the consumer, re-raised there
        _put(handoff, stop, _End(err))
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def threaded(items: Iterable[T], *, maxsize: int = 8, name: str = "vidswap-stage") -> Threaded[T]:
    """Iterate ``items`` in a background thread, handing items over through a bounded queue.

    Args:
        items: any iterable; it is iterated (and closed, if it is a generator) in the thread.
        maxsize: how many items may wait in the queue; the producer blocks when it is full.
        name: the thread's name, shown in tracebacks and debuggers.

    Returns:
        An iterator over the same items, in order. ``close()`` stops the thread early.
    """
    return Threaded(items, maxsize=maxsize, name=name)
