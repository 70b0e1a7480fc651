"""``vidswap job show JOB``: a job's segments, overrides and their state."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["job"]


@click.group()
def job() -> None:
    """Inspect and clean render jobs (made by vidswap run)."""


@job.command()
@click.argument("job_dir", metavar="JOB", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Delete the job even when its output is not done (no resume then).")
def clean(job_dir: Path, force: bool) -> None:
    """Delete a finished job's folder (segments, face analysis): its output stays.

    \b
    A job whose output is not done (missing, stale, or its inputs changed) is kept unless --force:
      vidswap job clean shot.swapped.mp4.vidswap-job
    """
    from vidswap.cli.errors import set_flags
    from vidswap.jobs.job import clean_job

    set_flags({"force": "--force"})
    freed = clean_job(job_dir, force=force)
    click.echo(f"removed {job_dir} ({freed / 2**20:.1f} MiB)", err=True)


@job.command()
@click.argument("job_dir", metavar="JOB", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document on stdout.")
def show(job_dir: Path, as_json: bool) -> None:
    """Show a job: input, output, overrides, and each segment's state.

    States: done (rendered with the job's current settings), stale (rendered with earlier
    settings: re-rendered by the next run), torn (interrupted: redone), missing.
    """
    from vidswap.jobs.job import job_report, load_job
    from vidswap.jobs.store import JobStore

    report = job_report(load_job(JobStore(job_dir)))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    counts = ", ".join(f"{n} {k}" for k, n in report["counts"].items() if n)
    state = {"done": "up to date", "inputs changed": "out of date: recorded files changed",
             "missing": "not muxed yet", "stale": "out of date: segments re-rendered since the mux",
             "differs": "differs from the job's last mux: another file, or a damaged one"}[report["output_state"]]
    click.echo(f"job:      {report['job']}\ninput:    {report['input']}\noutput:   {report['output']} "
               f"({state})\n"
               f"frames:   {report['frames']} in segments of {report['segment_frames']} ({counts})")
    for name, change in report["changed_files"].items():
        click.echo(f"{change}:  {name} (since the job was made; vidswap run JOB --force renders it again)")
    for override in report["overrides"]:
        click.echo(f"override: frames {override['frames']}: {', '.join(override['changes'])} "
                   f"(segments {override['segments']})")
    for segment in report["segments"]:
        click.echo(f"  {segment['index']:5d}  {segment['frames']:>13}  {segment['state']}")
