"""Background-thread iterators: order, bounded memory, error propagation and shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from vidswap.streams import threaded


def _stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("vidswap-")]


class TestThreaded:
    def test_keeps_order(self) -> None:
        assert list(threaded(range(100), maxsize=3)) == list(range(100))

    def test_bounded_queue_limits_read_ahead(self) -> None:
        produced = []

        def source() -> Iterator[int]:
            for i in range(1000):
                produced.append(i)
                yield i

        stream = threaded(source(), maxsize=4)
        assert next(stream) == 0
        time.sleep(0.3)
        # One item consumed, at most 4 queued, one more held by the blocked producer.
        assert len(produced) <= 6
        stream.close()

    def test_error_reaches_consumer(self) -> None:
        def source() -> Iterator[int]:
            yield 1
            raise RuntimeError("decoder broke at frame 2")

        stream = threaded(source(), maxsize=2)
        assert next(stream) == 1
        with pytest.raises(RuntimeError, match="frame 2"):
            next(stream)

    def test_closing_early_stops_thread_and_closes_source(self) -> None:
        closed = threading.Event()

        def source() -> Iterator[int]:
            try:
                i = 0
                while True:
                    yield i
                    i += 1
            finally:
                closed.set()

        stream = threaded(source(), maxsize=2)
        assert [next(stream) for _ in range(3)] == [0, 1, 2]
        stream.close()
        assert closed.wait(2.0)
        assert not _stage_threads()

    def test_rejects_empty_queue(self) -> None:
        with pytest.raises(ValueError, match="maxsize"):
            threaded([], maxsize=0)

    def test_closing_before_first_item_stops_thread(self) -> None:
        stream = threaded(iter(range(1000)), maxsize=1, name="vidswap-unstarted")
        stream.close()
        assert not [t for t in threading.enumerate() if t.name == "vidswap-unstarted"]

    def test_dropping_the_iterator_stops_thread(self) -> None:
        import gc

        stream = threaded(iter(range(1000)), maxsize=1, name="vidswap-dropped")
        next(stream)
        del stream
        gc.collect()
        deadline = time.monotonic() + 2.0
        while [t for t in threading.enumerate() if t.name == "vidswap-dropped"]:
            assert time.monotonic() < deadline, "producer thread still running"
            time.sleep(0.02)
