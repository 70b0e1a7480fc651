"""Threaded stages: order, bounded memory, error propagation and shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from vidswap.pipeline.stages import chain


def _stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("vidswap-")]


class TestChain:
    def test_stages_apply_in_order(self) -> None:
        def add_one(items: Iterator[int]) -> Iterator[int]:
            return (x + 1 for x in items)

        def square(items: Iterator[int]) -> Iterator[int]:
            return (x * x for x in items)

        assert list(chain(range(5), [add_one, square], maxsize=2)) == [1, 4, 9, 16, 25]

    def test_stages_run_concurrently(self) -> None:
        def slow(items: Iterator[int]) -> Iterator[int]:
            for x in items:
                time.sleep(0.05)
                yield x

        start = time.perf_counter()
        assert list(chain(range(10), [slow, slow, slow], maxsize=2)) == list(range(10))
        # In series: 3 x 10 x 0.05 = 1.5 s; overlapped it is about (10 + 2) x 0.05.
        assert time.perf_counter() - start < 1.2

    def test_error_in_middle_stage_stops_everything(self) -> None:
        def explode(items: Iterator[int]) -> Iterator[int]:
            for x in items:
                if x == 3:
                    raise ValueError("no face model")
                yield x

        with pytest.raises(ValueError, match="no face model"):
            list(chain(range(1_000_000), [explode], maxsize=2))
        deadline = time.monotonic() + 2.0
        while _stage_threads() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _stage_threads()
