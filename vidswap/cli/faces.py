"""``vidswap faces``: per-frame boxes, landmarks and track ids of a video or photo, and a preview."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vidswap.cli.errors import set_flags
from vidswap.errors import InputError, OutputExistsError
from vidswap.faces.detect import BACKENDS, DetectorConfig
from vidswap.io.media import IMAGE_SUFFIXES

if TYPE_CHECKING:
    import numpy as np

    from vidswap.faces.analyze import AnalyzedFace, AnalyzedFrame


def _read_frames(path: Path) -> tuple[Iterator[tuple[float | None, np.ndarray]], int]:
    """(pts seconds, H x W x 3 uint8 RGB) of a photo (one frame, pts None) or a video, and the count."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from vidswap.io.sequence import read_image

        return iter([(None, read_image(path))]), 1
    from vidswap.io import VideoReader

    reader = VideoReader(path)
    # The reader reads the whole video: its frame count.
    return ((frame.time, frame.rgb) for frame in reader), reader.info.video.frame_count


def _photo_numbers(faces: Sequence[AnalyzedFace]) -> dict[int, int]:
    """id of each face of a photo -> the number ``--source-face`` / ``face: N`` gives it."""
    from vidswap.pipeline.identity import left_to_right

    return {id(f): n for n, f in enumerate(left_to_right(faces, lambda f: f.face.box))}


def _draw(frame: np.ndarray, faces: Sequence[AnalyzedFace], *, photo: bool = False) -> np.ndarray:
    """Boxes and labels: a video's track ids, or a photo's face numbers (as ``--source-face`` counts)."""
    import cv2

    out = frame.copy()
    numbers = _photo_numbers(faces) if photo else {}
    for f in faces:
        colour = (255, 160, 0) if f.interpolated else (0, 220, 0)
        x0, y0, x1, y1 = (round(v) for v in f.face.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 2)
        label = f"face {numbers[id(f)]}" if photo else f"{f.track}"
        cv2.putText(out, label, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
        for x, y in f.smoothed:
            cv2.circle(out, (round(x), round(y)), 2, (255, 0, 0), -1)
    return out


def _write_overlay(source: Path, out: Path, analysis: Sequence[AnalyzedFrame], *, overwrite: bool) -> None:
    """Draw boxes (green detected, orange interpolated), track ids and smoothed landmarks."""
    if source.suffix.lower() in IMAGE_SUFFIXES:
        from vidswap.io.sequence import read_image, write_image

        write_image(out, _draw(read_image(source), analysis[0].faces, photo=True))
        return
    from vidswap.io import EncodeSettings, VideoReader, VideoWriter

    with VideoReader(source) as reader, VideoWriter(
        out, like=reader, settings=EncodeSettings(codec="libx264", crf=20, preset="veryfast"),
        overwrite=overwrite,
    ) as writer:
        for frame, frame_analysis in zip(reader, analysis, strict=True):
            writer.write(frame.pts, _draw(frame.rgb, frame_analysis.faces))


def _r(values: Iterable[float], digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


def to_json(analysis: Sequence[AnalyzedFrame], *, photo: bool = False) -> dict[str, Any]:
    """The documented JSON form of an analysis (see ``vidswap faces --help``); a photo's faces
    also carry ``face``, the number ``--source-face`` gives them."""
    def entry(f: AnalyzedFace, numbers: dict[int, int]) -> dict[str, Any]:
        item = {"track": f.track, "box": _r(f.face.box), "score": round(f.face.score, 4),
                "landmarks": [_r(p) for p in f.face.landmarks], "smoothed": [_r(p) for p in f.smoothed],
                "interpolated": f.interpolated}
        return {**item, "face": numbers[id(f)]} if photo else item

    return {"frames": [{"index": a.index, "pts": a.pts,
                        "faces": [entry(f, _photo_numbers(a.faces) if photo else {}) for f in a.faces]}
                       for a in analysis]}


@click.command("faces")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--detector", "backend", default=DetectorConfig().backend, show_default=True,
              type=click.Choice(BACKENDS),
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

    On a photo, faces are numbered as --source-face numbers them (0 = leftmost): the overlay
    labels them "face N" and the JSON gives "face": N.

    The JSON is {"frames": [{"index": i, "pts": t, "faces": [{"track": id, "box": [x0, y0, x1, y1],
    "score": s, "landmarks": [[x, y] x5], "smoothed": [[x, y] x5], "interpolated": bool}]}]} in frame
    pixels: landmarks as detected (or interpolated over a detector miss), smoothed as the swap uses
    them; pts in seconds (null for a photo).
    """
    set_flags({"overwrite": "--overwrite", "device": "--device"})
    from vidswap.faces.analyze import analyze
    from vidswap.faces.detect import create_detector
    from vidswap.faces.smooth import SmootherConfig
    from vidswap.faces.track import TrackerConfig
    from vidswap.progress import track

    if not file.is_file():
        raise InputError(f"{file}: no such file; give a video or a photo")
    if overlay is not None and overlay.exists() and not overwrite:
        raise OutputExistsError(f"{overlay} exists; pass --overwrite to replace it")
    detector = create_detector(DetectorConfig(backend=backend, long_side=long_side), device=device)
    frames, total = _read_frames(file)
    analysis = analyze(track(frames, total=total, description="faces"), detector,
                       tracker=TrackerConfig(), smoother=SmootherConfig())
    if overlay is not None:
        _write_overlay(file, overlay, analysis, overwrite=overwrite)
        click.echo(f"wrote {overlay}", err=True)
    if as_json:
        click.echo(json.dumps(to_json(analysis, photo=file.suffix.lower() in IMAGE_SUFFIXES)))
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
