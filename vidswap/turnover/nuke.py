"""Nuke scripts (``.nk``, Nuke's TCL) of a turnover: the comp, and the tracking as CornerPin2D nodes.

Nodes are written in topological order; each node takes its inputs from the stack, the last one
pushed being input 0 (Merge2: B is input 0, A input 1; a Grade with its mask input, ``inputs 1+1``:
the source is input 0, the mask input 1). Read nodes are ``raw``: vidswap blends the plate's
encoded values, so the merge must too.
The syntax follows scripts Nuke itself saved (public pipelines' ``.nk`` files, read while writing
this; no Nuke here): ``Merge2 { inputs 2 }`` after ``push`` of A then B, ``inputs 2+1`` / ``1+1``
with ``maskChannelInput`` for a masked node, a movie Read's ``frame_mode "start at"`` and
``frame N``, and CornerPin2D's ``to1 {{curve xF V ...} {curve xF V ...}}`` with ``to1`` bottom left
to ``to4`` top left.
Nuke's pixel coordinates have y up and pixel centres at half integers: a vidswap point ``(x, y)``
(centres at integers, y down) is ``(x + 0.5, height - y - 0.5)`` there.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["comp_script", "tracking_script", "nuke_point"]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nuke_point(x: float, y: float, height: int) -> tuple[float, float]:
    """A point in vidswap's frame pixels in Nuke's coordinates."""
    return x + 0.5, height - y - 0.5


def _format(width: int, height: int) -> str:
    return _quote(f"{width} {height} 0 0 {width} {height} 1 vidswap_plate")


def _node(kind: str, knobs: list[tuple[str, str]]) -> str:
    return f"{kind} {{\n" + "".join(f" {name} {value}\n" for name, value in knobs) + "}\n"


def comp_script(*, plate: Path, plate_is_sequence: bool, plate_first: int, movie_frames: int, layer: Path, matte: Path,
                occlusion: Path | None, file_type: str, first: int, last: int, width: int, height: int,
                fps: Fraction) -> str:
    """The comp: the plate and the layer read, the layer merged over the plate (vidswap's output),
    then a Grade masked by the matte for grading the face on its own (neutral as written); the
    occlusion estimate, when there is one, is read beside them (unconnected, for a roto or a mask).

    Args:
        plate: the input (a video, or an image-sequence pattern).
        plate_is_sequence: it is a sequence (numbered as the layer); else a movie of ``movie_frames``
            frames whose frame 0 is numbered ``plate_first``.
        layer, matte, occlusion: the layer's, matte's and occlusion estimate's patterns (``%04d``).
        file_type: the Read nodes' ``file_type`` of the layer and matte.
        first, last: the frame range (the plate's numbers).
        width, height, fps: the plate's.
    """
    size = _format(width, height)

    def frame_range(start: int, stop: int) -> list[tuple[str, str]]:
        return [("first", str(start)), ("last", str(stop)), ("origfirst", str(start)), ("origlast", str(stop)),
                ("origset", "true")]

    plate_knobs = [("inputs", "0"), ("file", _quote(plate.as_posix())), ("format", size)]
    if plate_is_sequence:
        plate_knobs += frame_range(first, last)
    else:  # a movie's frames are 1..N in Nuke: its first frame starts at the plate's frame 0
        plate_knobs += [*frame_range(1, movie_frames), ("frame_mode", _quote("start at")),
                        ("frame", str(plate_first))]
    plate_knobs += [("raw", "true"), ("name", "Plate")]

    def read(path: Path, name: str, extra: list[tuple[str, str]]) -> str:
        return _node("Read", [("inputs", "0"), ("file_type", file_type), ("file", _quote(path.as_posix())),
                              ("format", size), *frame_range(first, last), *extra, ("raw", "true"), ("name", name)])

    return "".join([
        "#! nuke -nx\nversion 13.0\n",
        _node("Root", [("inputs", "0"), ("name", _quote("comp.nk")), ("first_frame", str(first)),
                       ("last_frame", str(last)), ("fps", str(float(fps))), ("format", size)]),
        read(matte, "Matte", []), "set NMatte [stack 0]\n",
        read(layer, "Layer", [("premultiplied", "true")]), "set NLayer [stack 0]\n",
        _node("Read", plate_knobs), "set NPlate [stack 0]\n",
        "push $NLayer\npush $NPlate\n",
        _node("Merge2", [("inputs", "2"), ("operation", "over"), ("name", "Over")]), "set NOver [stack 0]\n",
        "push $NMatte\npush $NOver\n",
        _node("Grade", [("inputs", "1+1"), ("maskChannelInput", "rgba.red"), ("name", "FaceGrade")]),
        *([] if occlusion is None else [read(occlusion, "Occlusion", [])]),
    ])


def _curve(keys: list[tuple[int, float]]) -> str:
    return "{curve " + " ".join(f"x{frame} {value:.6f}" for frame, value in keys) + "}"


def tracking_script(tracking: Mapping[str, Any], *, first: int, last: int) -> str:
    """One CornerPin2D per track, pinning the aligned crop (``crop_size`` square) onto the frame
    with the crop's corners animated per frame (keys only where the track has a face): an element
    made in crop space lands on the face. ``tracking`` is
    :func:`~vidswap.pipeline.turnover.tracking_data`'s."""
    side, height = int(tracking["crop_size"]), int(tracking["height"])
    # Nuke's corner order (bottom left, bottom right, top right, top left) in crop pixels (edges: +-0.5).
    corners = np.array([[-0.5, side - 0.5], [side - 0.5, side - 0.5], [side - 0.5, -0.5], [-0.5, -0.5]])
    tracks: dict[int, list[tuple[int, np.ndarray]]] = {}
    for row in tracking["frames"]:
        for face in row["faces"]:
            crop_from_frame = np.vstack([np.array(face["crop_from_frame"]), [0.0, 0.0, 1.0]])
            frame_from_crop = np.linalg.inv(crop_from_frame)[:2]
            points = corners @ frame_from_crop[:, :2].T + frame_from_crop[:, 2]
            tracks.setdefault(int(face["track"]), []).append((int(row["frame"]), points))
    nodes = ["#! nuke -nx\nversion 13.0\n",
             _node("Root", [("inputs", "0"), ("name", _quote("tracking.nk")), ("first_frame", str(first)),
                            ("last_frame", str(last))])]
    for track, keyed in sorted(tracks.items()):
        knobs = [("inputs", "0")]
        for corner in range(4):
            xs = [(frame, nuke_point(points[corner][0], points[corner][1], height)[0]) for frame, points in keyed]
            ys = [(frame, nuke_point(points[corner][0], points[corner][1], height)[1]) for frame, points in keyed]
            knobs.append((f"to{corner + 1}", "{" + _curve(xs) + " " + _curve(ys) + "}"))
        knobs += [(f"from{i + 1}", f"{{{x:g} {y:g}}}") for i, (x, y) in enumerate(
            [(0, 0), (side, 0), (side, side), (0, side)])]
        knobs.append(("name", f"Track{track}"))
        nodes.append(_node("CornerPin2D", knobs))
    return "".join(nodes)
