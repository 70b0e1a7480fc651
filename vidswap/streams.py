"""Iterators run in a background thread behind a bounded queue.

The decoder, the pipeline's stages and the encoder each run in their own thread so the device
never waits on I/O; :func:`threaded` is the one piece of code that does that hand-over. Memory is
bounded by the queue size, never by the length of the stream; an exception in the thread is
re-raised in the consumer; closing the consumer stops the thread and closes the source.

The threads are kept and reused (:class:`_Workers`): a job renders each segment through new
streams, and a new thread each time let native memory grow with the number of segments (each new
thread gets its own OpenMP team and thread-local caches in torch and FFmpeg): 6 % more peak
memory for a 3x longer job in 48-frame segments, flat with one segment (``benchmarks/soak.py``).

Example:
    >>> stream = threaded(iter(range(5)), maxsize=2)
    >>> list(stream)
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["Threaded", "threaded"]

T = TypeVar("T")

_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone


class _End:
    """Marks the end of a stream; carries the producer's exception, if any."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


#: The name of a worker thread between streams.
_IDLE = "idle-stream-worker"


class _Workers:
    """Threads that run one task after another, reused: a task takes an idle thread, or a new one
    when all are busy (streams block on each other, so a task never waits for a thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue] = []

    def run(self, task: Callable[[], None], name: str) -> threading.Event:
        """Run ``task`` in a worker thread named ``name``; the event is set when it has returned."""
        finished = threading.Event()
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name=_IDLE, daemon=True).start()
        inbox.put((task, name, finished))
        return finished

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        while True:
            task, name, finished = inbox.get()
            threading.current_thread().name = name
            try:
                task()
            finally:
                del task  # an idle thread keeps nothing of the stream it ran
                threading.current_thread().name = _IDLE
                with self._lock:  # idle before the stream's close() returns: the next stream reuses it
                    self._idle.append(inbox)
                finished.set()


_WORKERS = _Workers()


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
        self._producer: list[threading.Thread] = []
        handoff, stop, producer = self._queue, self._stop, self._producer  # the thread holds no reference to self

        def task() -> None:
            producer.append(threading.current_thread())
            _produce(items, handoff, stop)

        self._finished = _WORKERS.run(task, name)

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
        if threading.current_thread() not in self._producer:
            self._finished.wait()

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
