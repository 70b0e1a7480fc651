"""``vidswap faces``: per-frame boxes, landmarks and track ids of a video or photo, and a preview."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click

from vidswap.errors import InputError, MediaError, OutputExistsError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _read_frames(path: Path) -> Iterator[tuple[float | None, "np.ndarray"]]:  # noqa: F821
    """(pts seconds, H x W x 3 uint8 RGB) of a photo (one frame) or of a video's first video stream."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise MediaError(f"{path}: cannot decode this image; "
                             "expected a JPEG, PNG or other OpenCV-readable file")
        yield None, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: has no video stream; give a video or a photo")
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else None
                yield t, frame.to_ndarray(format="rgb24")
    except av.FFmpegError as err:
        raise MediaError(f"{path}: cannot decode as video ({err})") from err


def _frame_count(path: Path) -> int | None:
    """The frame count the container declares (None for a photo or when unknown)."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return None
    import av

    try:
        with av.open(str(path)) as container:
            return (container.streams.video[0].frames or None) if container.streams.video else None
    except av.FFmpegError:
        return None


def _with_progress(frames: Iterator, total: int | None) -> Iterator:
    """Pass frames through while showing a progress bar with frames/s and ETA on stderr."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("faces"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[fps]:.1f} fps"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("faces", total=total, fps=0.0)
        start = time.perf_counter()
        for done, item in enumerate(frames, 1):
            yield item
            progress.update(task, advance=1, fps=done / max(time.perf_counter() - start, 1e-9))


def _draw(frame, faces):
    import cv2

    out = frame.copy()
    for f in faces:
        colour = (255, 160, 0) if f.interpolated else (0, 220, 0)
        x0, y0, x1, y1 = (round(v) for v in f.face.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 2)
        cv2.putText(out, f"{f.track}", (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
        for x, y in f.smoothed:
            cv2.circle(out, (round(x), round(y)), 2, (255, 0, 0), -1)
    return out


def _write_overlay(source: Path, out: Path, analysis, fps: float) -> None:
    """Draw boxes (green detected, orange interpolated), track ids and smoothed landmarks."""
    from fractions import Fraction

    frames = (_draw(frame, a.faces) for (_, frame), a in zip(_read_frames(source), analysis))
    if out.suffix.lower() in IMAGE_SUFFIXES:
        import cv2

        cv2.imwrite(str(out), cv2.cvtColor(next(frames), cv2.COLOR_RGB2BGR))
        return
    import av

    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.pix_fmt = "yuv420p"
        for i, image in enumerate(frames):
            if i == 0:
                stream.height, stream.width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
            image = image[:stream.height, :stream.width]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def _r(values, digits: int = 2) -> list:
    return [round(float(v), digits) for v in values]


def to_json(analysis) -> dict:
    """The documented JSON form of an analysis (see ``vidswap faces --help``)."""
    return {"frames": [{
        "index": a.index, "pts": a.pts,
        "faces": [{"track": f.track, "box": _r(f.face.box), "score": round(f.face.score, 4),
                   "landmarks": [_r(p) for p in f.face.landmarks], "smoothed": [_r(p) for p in f.smoothed],
                   "interpolated": f.interpolated} for f in a.faces],
    } for a in analysis]}


@click.command("faces")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--detector", "backend", default="yunet_onnx", show_default=True,
              type=click.Choice(["yunet_onnx", "yunet_kornia", "insightface"]),
              help="Face detector: yunet_onnx (bundled, no download), yunet_kornia (torch, GPU), "
                   "insightface (SCRFD; needs the insightface extra and its model pack).")
@click.option("--long-side", default=640, show_default=True, type=click.IntRange(min=0),
              help="Detect on frames downscaled to this long side (0 = full size).")
@click.option("--device", default="cpu", show_default=True,
              help="Torch device for torch detectors (cpu, cuda).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document to stdout instead of a summary.")
@click.option("--overlay", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.mp4",
              help="Write a preview with boxes, track ids and smoothed landmarks drawn "
                   "(an image when FILE is a photo).")
@click.option("--overwrite", is_flag=True, help="Replace the --overlay file if it exists.")
def faces(file: Path, backend: str, long_side: int, device: str, as_json: bool, overlay: Path | None,
          overwrite: bool) -> None:
    """Detect, track and smooth the faces of FILE (a video or a photo), to check before a render.

    The JSON is {"frames": [{"index": i, "pts": t, "faces": [{"track": id, "box": [x0, y0, x1, y1],
    "score": s, "landmarks": [[x, y] x5], "smoothed": [[x, y] x5], "interpolated": bool}]}]} in frame
    pixels: landmarks as detected (or interpolated over a detector miss), smoothed as the swap uses
    them; pts in seconds (null for a photo).
    """
    from vidswap.faces.analyze import analyze
    from vidswap.faces.detect import DetectorConfig, create_detector
    from vidswap.faces.smooth import SmootherConfig
    from vidswap.faces.track import TrackerConfig

    if not file.is_file():
        raise InputError(f"{file}: no such file; give a video or a photo")
    if overlay is not None and overlay.exists() and not overwrite:
        raise OutputExistsError(f"{overlay} exists; pass --overwrite to replace it")
    detector = create_detector(DetectorConfig(backend=backend, long_side=long_side, device=device))
    frames = _with_progress(_read_frames(file), _frame_count(file))
    analysis = analyze(frames, detector, tracker=TrackerConfig(), smoother=SmootherConfig())
    if overlay is not None:
        times = [a.pts for a in analysis if a.pts is not None]
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 25.0
        _write_overlay(file, overlay, analysis, fps)
        click.echo(f"wrote {overlay}", err=True)
    if as_json:
        click.echo(json.dumps(to_json(analysis)))
        return
    tracks: dict[int, list] = {}
    for a in analysis:
        for f in a.faces:
            tracks.setdefault(f.track, []).append((a.index, f))
    click.echo(f"{file}: {len(analysis)} frame(s), {len(tracks)} track(s)")
    for tid, items in sorted(tracks.items()):
        missed = sum(f.interpolated for _, f in items)
        size = sorted(f.face.size for _, f in items)[len(items) // 2]
        click.echo(f"  track {tid}: frames {items[0][0]}-{items[-1][0]}, {len(items)} frames "
                   f"({missed} interpolated), face ~{size:.0f} px")
