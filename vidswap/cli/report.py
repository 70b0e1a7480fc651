"""``vidswap report JOB_OR_OUTPUT``: the QC report of a render, from its job's stored state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from vidswap.jobs.job import Job
    from vidswap.pipeline.runner import RunSummary
    from vidswap.pipeline.spec import PipelineSpec

__all__ = ["report", "leave_report"]


@click.command()
@click.argument("target", metavar="JOB_OR_OUTPUT", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "page", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The HTML page to write (default: OUTPUT.report.html beside the render); the markers go "
                   "beside it as FILE's name with .edl, .otio and .csv.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the report's numbers (header, per frame, per track, frames to check) as one JSON "
                   "document on stdout instead of writing the page.")
@click.option("--every", type=click.IntRange(min=1), metavar="N",
              help="Contact-sheet row every N frames (default: about 24 rows), plus one at every scene cut.")
def report(target: Path, page: Path | None, as_json: bool, every: int | None) -> None:
    """Make (or remake) the QC report of a render from its job, without rendering again.

    \b
    JOB_OR_OUTPUT is a job folder or the video a job rendered. The page is one self-contained
    HTML file (header, plots, frames to check, contact sheet); the frames to check are also
    written as markers an editor imports (EDL locators, CSV):
      vidswap report shot.swapped.mov
      vidswap report shot.swapped.mov -o qc/shot.html
      vidswap report shot.swapped.mov --json > shot.qc.json
    Sections the render did not record are named on the page, one line each.
    """
    if as_json:
        from vidswap.report.build import report_json

        click.echo(json.dumps(report_json(target), indent=1))
        return
    from vidswap.report.build import write_report

    written = write_report(target, page, every=every)
    for line in written.missing:
        click.echo(f"note: {line}", err=True)
    click.echo(f"wrote {written.page} (markers {written.edl.name}, {written.otio.name}, {written.csv.name})", err=True)


def leave_report(output: Path, job: Job | None = None, stream: tuple[PipelineSpec, RunSummary] | None = None
                 ) -> None:
    """After a render: write its report beside the output (``OUTPUT.report.html``) and say where
    — a job's from its stored state (``job``: as the run left it), a streaming run's from its
    pipeline and summary (``stream``). The render is done
    whatever happens here, so a report that cannot be written (another file at its path, a full
    disk) is one ``warning:`` line and the command still succeeds."""
    from vidswap.errors import VidswapError
    from vidswap.report.build import write_report, write_stream_report

    try:
        if stream is None:
            written = write_report(output, job=job)
        else:
            spec, summary = stream
            assert summary.schedule is not None  # run_pipeline fills it in
            written = write_stream_report(spec, summary.schedule, output, stats=summary.face_stats,
                                          render=summary.measures, files=summary.files)
    except (VidswapError, OSError) as err:
        click.echo(f"warning: no QC report: {err}", err=True)
        return
    click.echo(f"report: {written.page}", err=True)
