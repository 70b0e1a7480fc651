"""The frames to check: the worst frames by each measure and every run of frames where the swap
fell back (a tracked face left as it was) or a face was filled in, exported as markers an editor
imports: a CMX3600 EDL with locators (Avid ``* LOC:`` lines), an OpenTimelineIO timeline whose
clip carries one marker per check, and a CSV."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidswap.report.data import ReportData

__all__ = ["Check", "WORST", "EDL_TITLE", "OTIO_MARK", "CSV_COLUMNS", "frames_to_check", "edl_text", "otio_text",
           "csv_text"]

#: How each marker file starts (a file that does not is never replaced by a report's).
EDL_TITLE = "TITLE: vidswap QC"
OTIO_NAME = "vidswap QC"
OTIO_MARK = f'"name": "{OTIO_NAME}'  # the timeline's name, in the first lines of its JSON
CSV_COLUMNS = ("frame", "last_frame", "timecode", "last_timecode", "measure", "value", "note")

#: Frames listed per measure.
WORST = 5

#: measure -> (per-frame column, whether low values are bad, locator colour, what it says).
_MEASURES: dict[str, tuple[str, bool, str, str]] = {
    "identity": ("identity", True, "RED", "lowest identity similarity"),
    "jitter": ("jitter_smooth", False, "YELLOW", "largest smoothed landmark jitter"),
    "coverage": ("coverage", True, "MAGENTA", "smallest mask coverage of a swapped frame"),
}
#: run measure -> (per-frame column, locator colour, what it says).
_RUNS: dict[str, tuple[str, str, str]] = {
    "fallback": ("not_swapped", "CYAN", "tracked face not swapped"),
    "filled": ("filled", "BLUE", "face filled in (detector missed it)"),
}


@dataclass(frozen=True)
class Check:
    """A frame (or run of frames) to look at.

    Attributes:
        frame, last: the first and last input index.
        measure: ``identity``, ``jitter``, ``coverage``, ``fallback`` or ``filled``.
        value: the measure there (the run's length for runs).
        note: what it says, in words.
        colour: the locator colour.
    """

    frame: int
    last: int
    measure: str
    value: float
    note: str
    colour: str


def frames_to_check(data: ReportData, worst: int = WORST) -> list[Check]:
    """The worst ``worst`` frames by each measure the report has (none where the measure is the same
    on every frame: nothing stands out), then every fallback and filled run."""
    checks: list[Check] = []
    swapped = data.per_frame("swapped")
    for measure, (column, low_bad, colour, note) in _MEASURES.items():
        values = data.per_frame(column)
        if measure == "coverage":
            values = np.where(swapped > 0, values, np.nan) if data.stats is not None else values
        known = np.flatnonzero(~np.isnan(values))
        if not known.size or np.ptp(values[known]) == 0:
            continue
        order = known[np.argsort(values[known] if low_bad else -values[known], kind="stable")][:worst]
        for position in order:
            index = data.header.first + int(position)
            checks.append(Check(index, index, measure, float(values[position]), f"{note}: {values[position]:.4f}",
                                colour))
    for measure, (column, colour, note) in _RUNS.items():
        values = data.per_frame(column)
        for start, stop in _runs(np.nan_to_num(values) > 0):
            first, last = data.header.first + start, data.header.first + stop - 1
            checks.append(Check(first, last, measure, float(stop - start), f"{note} ({stop - start} frames)", colour))
    return checks


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def edl_text(data: ReportData, checks: list[Check]) -> str:
    """A CMX3600 EDL: one event spanning the rendered frames, one locator per check."""
    header = data.header
    drop = ";" in data.zero or "." in data.zero
    clip = Path(header.output).name
    start = header.start_timecode
    end = data.timecode(header.first + header.frames)
    lines = [f"{EDL_TITLE} {Path(header.output).stem}"[:80], f"FCM: {'DROP' if drop else 'NON-DROP'} FRAME", "",
             f"001  AX       V     C        {start} {end} {start} {end}", f"* FROM CLIP NAME: {clip}"]
    for check in checks:
        note = " ".join(f"{check.measure}: {check.note}".split())  # one line
        lines.append(f"* LOC: {data.timecode(check.frame)} {check.colour:<7} {note}")
    return "\n".join(lines) + "\n"


def otio_text(data: ReportData, checks: list[Check]) -> str:
    """An OpenTimelineIO timeline (``.otio`` JSON): one clip, the output over the rendered frames
    in the source's timecode, with one marker per check (its colour, the measure as its name, what
    it says and its value in its metadata) that Resolve, Premiere or Avid import through OTIO."""
    import opentimelineio as otio

    header = data.header
    rate = float(data.rate)
    zero = otio.opentime.from_timecode(data.zero, rate).value

    def span(first: int, last: int) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(otio.opentime.RationalTime(zero + first, rate),
                                       otio.opentime.RationalTime(last - first + 1, rate))

    clip = otio.schema.Clip(name=Path(header.output).name,
                            media_reference=otio.schema.ExternalReference(target_url=Path(header.output).as_uri()),
                            source_range=span(header.first, header.first + header.frames - 1))
    for check in checks:
        clip.markers.append(otio.schema.Marker(
            name=check.measure, marked_range=span(check.frame, check.last), color=check.colour,
            metadata={"vidswap": {"note": check.note, "value": None if math.isnan(check.value) else check.value}}))
    timeline = otio.schema.Timeline(name=f"{OTIO_NAME} {Path(header.output).stem}")
    track = otio.schema.Track(name="V1")
    track.append(clip)
    timeline.tracks.append(track)
    return str(otio.adapters.write_to_string(timeline, "otio_json"))


def csv_text(data: ReportData, checks: list[Check]) -> str:
    """The checks as CSV, one row each (:data:`CSV_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for check in checks:
        value = "" if math.isnan(check.value) else f"{check.value:.6g}"
        writer.writerow([check.frame, check.last, data.timecode(check.frame), data.timecode(check.last),
                         check.measure, value, check.note])
    return out.getvalue()
