"""A job run and a range re-render resolve their set-up once (the render session): one probe of
the input, one output check, one swapper; measured through the CLI by benchmarks/setup_counts.py."""

from __future__ import annotations

from benchmarks.setup_counts import measure


def test_set_up_once_per_run() -> None:
    rows = measure()
    job, rerender = rows["job run"], rows["range re-render"]
    assert {k: job[k] for k in ("probe", "check_io", "validate", "schedule", "swapper", "input hash")} == {
        "probe": 1, "check_io": 1, "validate": 1, "schedule": 1, "swapper": 1, "input hash": 1}
    # The re-render validates the changed settings and then the pipeline with its new override.
    assert rerender == {"probe": 1, "check_io": 1, "validate": 2, "schedule": 1, "swapper": 1, "input hash": 1}
