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


class TestWorkers:
    """Streams run on kept threads: a job's segments reuse them instead of starting new ones."""

    def test_a_later_stream_runs_on_a_thread_an_earlier_one_used(self) -> None:
        def where() -> Iterator[threading.Thread]:
            yield threading.current_thread()

        idle = {t for t in threading.enumerate() if t.name == "idle-stream-worker"}
        (first,) = threaded(where(), name="vidswap-a")
        (again,) = threaded(where(), name="vidswap-b")
        assert again is first or again in idle  # the same thread (not a new one with a reused id)
        assert not _stage_threads()

    def test_streams_at_once_each_get_a_thread(self) -> None:
        release = threading.Event()

        def where() -> Iterator[int]:
            yield threading.get_ident()
            release.wait(5)  # still running when the next stream starts

        streams = [threaded(where(), name=f"vidswap-{i}") for i in range(4)]
        assert len({next(s) for s in streams}) == 4  # none waits for another's thread
        release.set()
        for stream in streams:
            stream.close()

    def test_an_idle_thread_keeps_nothing_of_its_stream(self) -> None:
        import gc
        import weakref

        class Source:
            def __iter__(self) -> Iterator[int]:
                return iter(range(3))

        source = Source()
        alive = weakref.ref(source)
        assert list(threaded(source, name="vidswap-kept")) == [0, 1, 2]
        del source
        gc.collect()
        assert alive() is None
