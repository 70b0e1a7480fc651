"""The contact sheet: input | output | matte thumbnails every N frames and at every scene cut.

Input and output frames are decoded again here (each by its own one-frame range, so a long shot
costs one seek per row, not a decode of the whole shot); the mattes are the thumbnails the
render kept (:class:`~vidswap.pipeline.qc.RenderQC`), as the report never renders.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vidswap.pipeline.qc import THUMB_WIDTH, sheet_frames

if TYPE_CHECKING:
    from vidswap.io.probe import MediaInfo
    from vidswap.report.data import ReportData, Shot

__all__ = ["SheetRow", "contact_sheet", "data_uri"]


@dataclass(frozen=True)
class SheetRow:
    """One row: the frame, its timecode, whether a shot starts there, and its thumbnails as data
    URIs (None where there is none: no output yet, or no matte kept)."""

    frame: int
    timecode: str
    cut: bool
    input: str | None
    output: str | None
    matte: str | None


def data_uri(image: np.ndarray, kind: str = "jpeg") -> str:
    """An RGB (or grey) image as a ``data:`` URI (JPEG for pictures, PNG for mattes and plots)."""
    import cv2

    pixels = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg" if kind == "jpeg" else ".png", pixels,
                               [cv2.IMWRITE_JPEG_QUALITY, 85] if kind == "jpeg" else [])
    if not ok:
        raise ValueError(f"could not encode a {image.shape} thumbnail as {kind}")
    return f"data:image/{kind};base64," + base64.b64encode(encoded.tobytes()).decode()


def _thumb(rgb: np.ndarray) -> np.ndarray:
    import cv2

    height, width = rgb.shape[:2]
    return np.asarray(cv2.resize(rgb, (THUMB_WIDTH, max(1, round(height * THUMB_WIDTH / width))),
                                 interpolation=cv2.INTER_AREA))


def _frame(path: str, index: int, info: MediaInfo | None = None) -> np.ndarray | None:
    """Frame ``index`` of a video, upright (None: not there)."""
    from vidswap.io.ranges import FrameRange
    from vidswap.io.reader import VideoReader

    with VideoReader(path, frames=FrameRange(start=index, stop=index + 1), queue_size=1, turn_upright=True,
                     info=info) as reader:
        for frame in reader:
            return frame.rgb
    return None


def contact_sheet(data: ReportData, shot: Shot, every: int | None = None) -> tuple[list[SheetRow], str | None]:
    """The contact sheet's rows, and why the output or matte column is empty (None: it is not).

    Args:
        data: the report's numbers (the frames, cuts and kept mattes).
        shot: the input (and its probe) and the output.
        every: frames between rows (None: about :data:`~vidswap.pipeline.qc.SHEET_ROWS` rows).
    """
    from vidswap.errors import VidswapError
    from vidswap.io.probe import probe

    first, stop = data.header.first, data.header.first + data.header.frames
    cuts = data.stats.cut_frames() if data.stats is not None else []
    frames = sheet_frames(first, stop, cuts, every)
    mattes = {} if data.render is None else dict(zip(data.render.thumb_frame.tolist(), data.render.thumbs,
                                                     strict=True))
    try:
        out_info = probe(shot.output) if shot.output.is_file() else None
    except VidswapError:
        out_info = None
    why = None if out_info is not None else f"output column: {shot.output} is not there (the job is not muxed)"
    if not mattes:
        why = "; ".join(filter(None, [why, "matte column: the render kept no matte thumbnails"]))
    rows = []
    for index in frames:
        rgb = _frame(str(shot.input), index, shot.info)
        out = _frame(str(shot.output), index - first, out_info) if out_info is not None else None
        matte = mattes.get(index)
        rows.append(SheetRow(frame=index, timecode=data.timecode(index), cut=index in cuts,
                             input=data_uri(_thumb(rgb)) if rgb is not None else None,
                             output=data_uri(_thumb(out)) if out is not None else None,
                             matte=data_uri(matte, "png") if matte is not None else None))
    return rows, why or None
