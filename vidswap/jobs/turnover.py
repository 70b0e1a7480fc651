"""``vidswap turnover JOB -o DIR``: a job's VFX turnover, made afterwards from its stored state.

The job holds what the layers depend on: its pipeline, the face analysis (smoothed landmarks per
frame), the source identities and the recorded input and weights; each segment's fingerprint hashes
them. ``DIR/job-segments.json`` records the fingerprint each segment's layers were rendered with (a
job's own turnover records it too, :func:`record_turnover`). A segment whose frames all have their
layer and matte files in ``DIR``, rendered with its current fingerprint, is left as it is (a range
re-rendered with other settings since is not); every other segment's frames go through
the render loop again (decode -> align + swap -> composite) with only the turnover's collector
attached: the job's segments and its output are not touched. The tracking data, the Nuke scripts
and the manifest are then written for the job's whole range (:func:`~vidswap.pipeline.turnover.finish_turnover`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vidswap.io.layers import DEFAULT_LAYER_FORMAT

if TYPE_CHECKING:
    from vidswap.jobs.job import Job
    from vidswap.pipeline.session import RenderSession, RunOptions

__all__ = ["TurnoverSummary", "job_turnover", "record_turnover", "finish_job_turnover", "RECORD_FILE"]

#: The fingerprint of each segment whose layers a turnover folder holds.
RECORD_FILE = "job-segments.json"


def _recorded(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(folder: Path, fingerprints: dict[str, str]) -> None:
    temp = folder / f".{RECORD_FILE}.tmp"
    temp.write_text(json.dumps(fingerprints, indent=1))
    os.replace(temp, folder / RECORD_FILE)


def record_turnover(job: Job, folder: Path) -> None:
    """Record that ``folder`` holds the layers of every segment of ``job`` as now fingerprinted (after
    the job rendered them all)."""
    _record(folder, {str(s.index): job.fingerprints[s.index] for s in job.segments})


def finish_job_turnover(job: Job, output: Path, session: RenderSession | None = None) -> None:
    """After the mux of a job with a turnover (by ``run`` or by the farm node that rendered the last
    segment): write the tracking data, the Nuke scripts and the manifest for the job's whole range,
    and record the segments' layers as current. ``session``: the render's (None: one is opened, the
    weights from the cache, as a farm node's)."""
    from vidswap.pipeline.session import RenderSession, RunOptions
    from vidswap.pipeline.turnover import finish_turnover

    turnover = job.spec.turnover
    assert turnover is not None
    session = session or RenderSession(job.spec, RunOptions(offline=True, progress=False), schedule=job.schedule)
    finish_turnover(session, turnover, job.faces, job.schedule.frames, output)
    record_turnover(job, turnover.dir)


@dataclass(frozen=True)
class TurnoverSummary:
    """What :func:`job_turnover` did.

    Attributes:
        manifest: the turnover's manifest.
        rendered: numbers of the segments whose layers were rendered now.
        frames: frames rendered now.
    """

    manifest: Path
    rendered: list[int]
    frames: int


def job_turnover(root: Path, folder: Path, *, layer_format: str = DEFAULT_LAYER_FORMAT,
                 options: RunOptions | None = None) -> TurnoverSummary:
    """Write the turnover of the job in ``root`` to ``folder``, rendering only the segments whose
    layers are missing there (module docstring), under the job's shared lock.

    Raises:
        ConfigError: ``root`` holds no job. JobLockedError: a ``run`` holds the job.
        JobChangedError: a file the job recorded is missing or changed.
        InputError: ``folder``'s parent does not exist.
    """
    import torch

    from vidswap.errors import InputError
    from vidswap.jobs.job import _check_unchanged, load_job
    from vidswap.jobs.store import JobStore
    from vidswap.pipeline.session import RenderSession, RunOptions
    from vidswap.pipeline.spec import TurnoverSpec
    from vidswap.pipeline.turnover import finish_turnover, turnover_layers
    from vidswap.progress import Meter

    folder = folder.absolute()
    if not folder.parent.is_dir():
        raise InputError(f"{folder}: its folder {folder.parent} does not exist; create it first")
    store = JobStore(root)
    with store.lock(shared=True):
        job = load_job(store)
        _check_unchanged(job.data["hashes"], {}, root)
        turnover = TurnoverSpec(dir=folder, format=layer_format)
        options = options or RunOptions(offline=True, progress=False)
        session = RenderSession(job.spec.model_copy(update={"turnover": turnover}), options, schedule=job.schedule)
        layers = turnover_layers(session, turnover)
        recorded = _recorded(folder)
        pending = [s for s in job.segments
                   if recorded.get(str(s.index)) != job.fingerprints[s.index] or not layers.complete(s.frames)]
        identities = {name: torch.from_numpy(z) for name, z in store.load_arrays(store.identities_file).items()}
        frames = 0
        with Meter(sum(s.stop - s.start for s in pending), description="turnover",
                   disable=not options.progress) as meter:
            for segment in pending:
                frames += session.render(segment.frames, job.faces, identities, [], meter=meter, layers=layers).frames
                recorded[str(segment.index)] = job.fingerprints[segment.index]
                _record(folder, recorded)
        output = job.output if job.output.is_file() else None
        manifest = finish_turnover(session, turnover, job.faces, job.schedule.frames, output)
    return TurnoverSummary(manifest=manifest, rendered=[s.index for s in pending], frames=frames)
