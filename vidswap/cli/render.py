"""``vidswap render JOB``: render a slice of a job's segments (a render farm node), and mux."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["render"]


@click.command()
@click.argument("job_dir", metavar="JOB", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--segments", "segments", metavar="N-M",
              help="Segments to render: 10-19 (inclusive), 10:, :5 or 7 [default: every pending one].")
@click.option("--mux/--no-mux", default=True, show_default=True,
              help="Join the segments into the output once all exist (whoever finishes the last one does).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Render in this process or on a Ray cluster.")
@click.option("--address", metavar="ADDR", help="Ray cluster to use with --executor ray.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as one JSON document on stdout.")
def render(job_dir: Path, segments: str | None, mux: bool, executor: str, address: str | None,
           no_progress: bool, as_json: bool) -> None:
    """Render segments of an existing job (made by vidswap run) on this node.

    \b
    Every node must see JOB, the input and the weights at the same paths. Nodes render
    disjoint slices at the same time; a segment already done is skipped; a torn one is redone:
      vidswap render /shared/shot.mov.vidswap-job --segments 0-19    # node A
      vidswap render /shared/shot.mov.vidswap-job --segments 20:     # node B
    """
    from vidswap.jobs.executors import make_executor
    from vidswap.jobs.job import load_job, mux_job
    from vidswap.jobs.segments import parse_segment_range
    from vidswap.jobs.store import JobStore

    store = JobStore(job_dir)
    with store.lock(shared=True):
        job = load_job(store)
        chosen = parse_segment_range(segments, len(job.segments)) if segments else range(len(job.segments))
        states = job.states()
        pending = [i for i in chosen if states[i] != "done"]
        results = make_executor(executor, address=address, progress=not no_progress).render(job_dir, pending) \
            if pending else []
        output = mux_job(job) if mux and all(s == "done" for s in job.states()) else None
    rendered = [r.index for r in results if not r.skipped]
    if as_json:
        click.echo(json.dumps({"job": str(job_dir), "rendered": rendered,
                               "output": str(output) if output else None,
                               "remaining": [i for i, s in enumerate(job.states()) if s != "done"]}))
    click.echo(f"rendered segments {rendered or 'none'} of {job_dir}"
               + (f"; muxed -> {output}" if output else "; output not muxed yet"), err=True)
