"""``vidswap render JOB``: render a slice of a job's segments (a render farm node), and mux."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vidswap.jobs.executors import EXECUTORS

__all__ = ["render"]


@click.command()
@click.argument("job_dir", metavar="JOB", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--segments", "segments", metavar="N-M",
              help="Segments to render: 10-19 (inclusive), 10:, :5 or 7 [default: every pending one].")
@click.option("--mux/--no-mux", default=True, show_default=True,
              help="Join the segments into the output once all exist (whoever finishes the last one does).")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
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
    from vidswap.cli.errors import set_flags
    from vidswap.jobs.executors import make_executor
    from vidswap.jobs.job import render_slice

    set_flags({"segments": "--segments", "executor": "--executor", "address": "--address",
               "force": "`vidswap run JOB --force`", "output.overwrite": "`vidswap run JOB --overwrite`"})
    done = render_slice(job_dir, segments, mux=mux,
                        executor=make_executor(executor, address=address, progress=not no_progress))
    if as_json:
        click.echo(json.dumps({"job": str(job_dir), "rendered": done.rendered,
                               "output": str(done.output) if done.output else None, "remaining": done.remaining}))
    click.echo(f"rendered segments {done.rendered or 'none'} of {job_dir}"
               + (f"; muxed -> {done.output}" if done.output else "; output not muxed yet"), err=True)
    if done.output is not None:  # the node that muxed leaves the report
        from vidswap.cli.report import leave_report

        leave_report(done.output, done.state)
