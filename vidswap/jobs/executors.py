"""Where segments render: in this process, or as tasks on a Ray cluster.

Segments are independent, so an executor only needs the job directory (on storage every
worker sees) and segment numbers. Each worker builds one :class:`SegmentRenderer` (one model
load) and renders many segments with it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vidswap.errors import ConfigError
from vidswap.jobs.render import SegmentRenderer, SegmentResult

if TYPE_CHECKING:
    from vidswap.jobs.job import Job
    from vidswap.pipeline.session import RenderSession

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "RayExecutor", "make_executor"]


class Executor(Protocol):
    """Renders segments of a job."""

    def render(self, job: Job, indices: Sequence[int], *,
               session: RenderSession | None = None) -> list[SegmentResult]:
        """Render the segments ``indices`` of ``job`` (those already done are skipped); ``session``
        is this process's session of the job, where it has one."""
        ...


class LocalExecutor:
    """Render in this process, one segment after another (the GPU or CPU threads do the rest).

    Args:
        progress: a progress bar on stderr.
    """

    def __init__(self, *, progress: bool = False) -> None:
        self.progress = progress

    def render(self, job: Job, indices: Sequence[int], *,
               session: RenderSession | None = None) -> list[SegmentResult]:
        """Render the segments one after another; the progress counts their frames (rate, ETA)."""
        from vidswap.progress import Meter

        renderer = SegmentRenderer(job, session) if session is not None else SegmentRenderer.open(job)
        total = sum(job.segments[i].stop - job.segments[i].start for i in indices)
        with Meter(total, description="render", disable=not self.progress) as meter:
            return [renderer.render(i, meter) for i in indices]


class _Worker:
    """A Ray actor: one renderer (one session, one model load) for all the segments it gets."""

    def __init__(self, root: str) -> None:
        from vidswap.jobs.job import load_job
        from vidswap.jobs.store import JobStore

        self.renderer = SegmentRenderer.open(load_job(JobStore(root)))

    def render(self, index: int) -> SegmentResult:
        return self.renderer.render(index)


class RayExecutor:
    """Render on a Ray cluster: one actor per worker slot (a GPU each when the cluster has GPUs,
    else ``cpus_per_worker`` CPUs), segments handed out as the actors become free.

    Args:
        address: the cluster (``ray://HOST:10001``, ``auto``); None starts a local one. Ignored
            when Ray is already initialised in this process.
        workers: actors to start (None: as many as the cluster's GPUs, or its CPUs divided
            by ``cpus_per_worker``).
        cpus_per_worker: CPUs each actor reserves.

    Every node must see the job directory, the input and the weights at the same paths.
    """

    def __init__(self, *, address: str | None = None, workers: int | None = None,
                 cpus_per_worker: int = 1, progress: bool = False) -> None:
        self.address, self.workers, self.cpus_per_worker = address, workers, cpus_per_worker
        self.progress = progress

    def render(self, job: Job, indices: Sequence[int], *,
               session: RenderSession | None = None) -> list[SegmentResult]:
        """Render on the cluster's actors; ``session`` is not used (each actor opens its own). The
        progress counts each segment's frames as its actor finishes it (frames/s, ETA)."""
        from vidswap.progress import Meter

        ray = _import_ray()
        if not ray.is_initialized():
            # Workers import vidswap from where this process does (a checkout works as well as an install).
            paths = os.pathsep.join(p for p in sys.path if p and Path(p, "vidswap").is_dir())
            ray.init(address=self.address, runtime_env={"env_vars": {"PYTHONPATH": paths}} if paths else None,
                     log_to_driver=False)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        slots = gpus or max(1, int(resources.get("CPU", 1)) // self.cpus_per_worker)
        count = max(1, min(self.workers or slots, len(indices)))
        actor = ray.remote(num_gpus=1 if gpus else 0, num_cpus=self.cpus_per_worker)(_Worker)
        actors = [actor.remote(str(job.store.root)) for _ in range(count)]
        pool = ray.util.ActorPool(actors)
        total = sum(job.segments[i].stop - job.segments[i].start for i in indices)
        try:
            with Meter(total, description="render", disable=not self.progress) as meter:
                results = []
                for result in pool.map_unordered(lambda a, i: a.render.remote(i), list(indices)):
                    meter.advance(job.segments[result.index].stop - job.segments[result.index].start)
                    results.append(result)
            return sorted(results, key=lambda r: r.index)
        finally:
            for a in actors:
                ray.kill(a)


def _import_ray():
    try:
        import ray
        import ray.util
    except ImportError as err:
        raise ConfigError("executor ray needs Ray: pip install 'vidswap[ray]' (or pip install ray)",
                          setting="executor") from err
    return ray


#: The executors by name (the CLI's ``--executor`` choices).
EXECUTORS = ("local", "ray")


def make_executor(name: str, *, address: str | None = None, progress: bool = False) -> Executor:
    """An executor by name (one of :data:`EXECUTORS`).

    Raises:
        ConfigError: an unknown name, or an ``address`` with ``local``.
    """
    if name == "local":
        if address is not None:
            raise ConfigError("address names a Ray cluster: use it with executor ray", setting="address")
        return LocalExecutor(progress=progress)
    if name == "ray":
        return RayExecutor(address=address, progress=progress)
    raise ConfigError(f"executor: expected {' or '.join(EXECUTORS)}, found {name!r}", setting="executor")
