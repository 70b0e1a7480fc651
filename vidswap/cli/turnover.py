"""``vidswap turnover JOB -o DIR``: a job's VFX turnover for a compositor, from its stored state."""

from __future__ import annotations

from pathlib import Path

import click

from vidswap.io.layers import DEFAULT_LAYER_FORMAT, LAYER_FORMAT_CHOICES

__all__ = ["turnover"]


@click.command()
@click.argument("target", metavar="JOB", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="The turnover folder (made when missing).")
@click.option("--turnover-format", "layer_format", type=click.Choice(LAYER_FORMAT_CHOICES),
              default=DEFAULT_LAYER_FORMAT, show_default=True,
              help="Layer files: EXR half or float, 16-bit TIFF or PNG.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def turnover(target: Path, folder: Path, layer_format: str, no_progress: bool) -> None:
    """Write the VFX turnover of a job: the face as a premultiplied RGBA layer, its matte and (when
    the model refines) the occlusion estimate (the plate's frame numbers), tracking data, a Nuke
    script and a manifest.

    \b
    JOB is a job folder (or its job.json). Segments whose layers are already in DIR are kept; the
    others render again from the job's stored faces and identities (the job's own video is not
    touched). Weights come from the cache, never downloaded:
      vidswap turnover shot.swapped.mov.vidswap-job -o turnover/sh010
    """
    from vidswap.errors import ConfigError
    from vidswap.jobs.job import find_job
    from vidswap.jobs.turnover import job_turnover
    from vidswap.pipeline.session import RunOptions

    root = find_job(target)
    if root is None:
        raise ConfigError(f"{target}: not a job folder (no job.json)")
    summary = job_turnover(root, folder, layer_format=layer_format,
                           options=RunOptions(offline=True, progress=not no_progress))
    click.echo(f"wrote {summary.manifest} ({len(summary.rendered)} segments, {summary.frames} frames rendered)",
               err=True)
