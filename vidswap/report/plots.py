"""The report's plots over the shot's time axis (matplotlib, drawn off-screen to PNG).

Each plot is one measure per frame against the input's frame numbers, with the timecode under
each tick and the scene cuts as dotted lines; a plot whose data is missing is not drawn (the
page says why).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vidswap.report.data import RANDOM_NOTE, ReportData

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Plot", "plots"]


@dataclass(frozen=True)
class Plot:
    """One plot: its title, and the PNG as a data URI (None: not drawn, ``why`` says why)."""

    title: str
    image: str | None
    why: str | None = None


def _figure(data: ReportData, draw: Callable[[Axes, np.ndarray], None], ylabel: str) -> str:
    """A plot drawn by ``draw(axes, x)`` with the report's time axis, as a PNG data URI."""
    import base64

    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    figure = Figure(figsize=(10, 2.4), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    x = np.arange(data.header.first, data.header.first + data.header.frames)
    draw(axes, x)
    for position in np.flatnonzero(np.nan_to_num(data.per_frame("cut")) > 0):
        axes.axvline(data.header.first + position, color="grey", linestyle=":", linewidth=1)
    axes.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(8, integer=True))
    axes.xaxis.set_major_formatter(FuncFormatter(
        lambda value, _: f"{int(value)}\n{data.timecode(int(value))}" if value >= 0 else ""))
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper right", fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def plots(data: ReportData) -> list[Plot]:
    """Every plot of the report, in page order."""
    face_pass = data.missing.get("face pass")
    render = data.missing.get("render") if data.render is None else None
    out: list[Plot] = []

    def add(title: str, why: str | None, draw: Callable[[Axes, np.ndarray], None], ylabel: str) -> None:
        out.append(Plot(title, None, why) if why else Plot(title, _figure(data, draw, ylabel)))

    def faces(axes: Axes, x: np.ndarray) -> None:
        axes.step(x, data.per_frame("detected"), where="mid", label="detected")
        axes.step(x, data.per_frame("tracked"), where="mid", label="tracked", linestyle="--")
        axes.step(x, data.per_frame("swapped"), where="mid", label="swapped")

    def filled(axes: Axes, x: np.ndarray) -> None:
        axes.bar(x, data.per_frame("filled"), width=1.0, color="tab:blue", label="filled faces")

    def identity(axes: Axes, x: np.ndarray) -> None:
        assert data.render is not None
        axes.scatter(data.render.face_frame, data.render.identity, s=6, color="tab:green", label="swapped face")
        axes.set_ylim(-1, 1)

    def jitter(axes: Axes, x: np.ndarray) -> None:
        axes.plot(x, data.per_frame("jitter_raw"), label="raw", color="tab:red", linewidth=1)
        axes.plot(x, data.per_frame("jitter_smooth"), label="smoothed", color="tab:blue", linewidth=1.5)

    def coverage(axes: Axes, x: np.ndarray) -> None:
        axes.fill_between(x, data.per_frame("coverage"), step="mid", color="tab:purple", alpha=0.6,
                          label="frame under the matte")

    def not_swapped(axes: Axes, x: np.ndarray) -> None:
        axes.bar(x, data.per_frame("not_swapped"), width=1.0, color="tab:orange", label="tracked, not swapped")

    add("Faces per frame", face_pass, faces, "faces")
    add("Filled (interpolated) faces", face_pass, filled, "faces")
    add("Identity similarity to the source (cosine, model's encoder)",
        render or (RANDOM_NOTE if data.header.random_weights else None), identity, "cosine")
    add("Landmark jitter: raw against smoothed", face_pass, jitter, "jitter / face size")
    add("Mask coverage", render, coverage, "fraction of frame")
    add("Tracked faces not swapped", face_pass, not_swapped, "faces")
    return out
