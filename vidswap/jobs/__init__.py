"""Jobs: a render kept in a work directory, so it resumes after a crash, re-renders only the
segments a frame range touches, and scales out over machines (Ray, or a render farm running
``vidswap render JOB --segments``). See :mod:`vidswap.jobs.job` for the steps; the segments are
joined by :func:`vidswap.io.concat.concat_segments`.

Heavy modules (torch, av) load only when a job runs.
"""

__all__ = ["job", "store", "segments", "render", "executors"]
