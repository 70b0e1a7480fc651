"""``vidswap probe FILE``: what a video holds (streams, timing, rotation, colour, timecode)."""

from __future__ import annotations

import json
from fractions import Fraction

import click

__all__ = ["probe"]


@click.command("probe")
@click.argument("file", metavar="FILE")
@click.option(
    "--rate",
    type=str,
    default=None,
    metavar="FPS",
    help="Frame rate of an image sequence (e.g. 24 or 24000/1001); default 24.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
def probe(file: str, rate: str | None, as_json: bool) -> None:
    """Show what FILE holds: video codec, size, frame count, fps (and whether it varies),
    duration, rotation, colour tags, start timecode, audio and subtitle tracks.

    FILE is a video or an image sequence pattern such as shot.%04d.png or plate.####.exr.
    """
    from vidswap.io.probe import probe as probe_media

    try:
        fps = Fraction(rate) if rate else None
    except (ValueError, ZeroDivisionError) as err:
        raise click.BadParameter(
            f"expected a number like 24 or 24000/1001, got {rate!r}", param_hint="--rate"
        ) from err
    info = probe_media(file, rate=fps)
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
        return
    video = info.video
    color = video.color.names()
    lines = [
        f"file       {info.path} ({info.format}, {info.duration:.3f} s)",
        f"video      #{video.index} {video.codec} {video.width}x{video.height} {video.pix_fmt} "
        f"({video.bit_depth}-bit)",
        f"frames     {video.frame_count} at {float(video.rate):.3f} fps ({video.rate})"
        + (", variable frame rate" if video.vfr else ""),
        f"time base  {video.time_base}, first pts {video.start_pts}",
        f"rotation   {video.rotation}",
        f"colour     primaries {color['primaries']}, transfer {color['transfer']}, "
        f"matrix {color['matrix']}, range {color['range']}",
        f"timecode   {info.timecode or 'none'}",
    ]
    lines += [
        f"audio      #{a.index} {a.codec} {a.sample_rate} Hz {a.channels} ch"
        + (f" [{a.language}]" if a.language else "")
        for a in info.audio
    ] or ["audio      none"]
    lines += [
        f"subtitles  #{s.index} {s.codec}" + (f" [{s.language}]" if s.language else "")
        for s in info.subtitles
    ]
    click.echo("\n".join(lines))
