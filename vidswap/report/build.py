"""Make a report: the page with its markers, or the JSON of the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidswap.report.data import ReportData, Shot, load_report
from vidswap.report.markers import CSV_COLUMNS, EDL_TITLE, OTIO_MARK, csv_text, edl_text, frames_to_check, otio_text

if TYPE_CHECKING:
    from vidswap.jobs.job import Job
    from vidswap.pipeline.model import ModelFiles
    from vidswap.pipeline.qc import FaceStats, RenderQCData
    from vidswap.pipeline.schedule import Schedule
    from vidswap.pipeline.spec import PipelineSpec

__all__ = ["ReportFiles", "write_report", "write_stream_report", "report_json", "default_report_path"]


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote, and the lines saying which sections are missing."""

    page: Path
    edl: Path
    otio: Path
    csv: Path
    missing: tuple[str, ...]


def default_report_path(output: Path) -> Path:
    """``OUTPUT.report.html`` beside the output."""
    return output.with_name(output.name + ".report.html")


def write_report(target: Path, page: Path | None = None, *, every: int | None = None,
                 job: Job | None = None) -> ReportFiles:
    """Write the report of the job of ``target`` (job folder or output) to ``page`` (None:
    :func:`default_report_path`), with its markers beside it (``.edl``, ``.otio``, ``.csv``).
    ``job``: the job as a run just left it (``JobSummary.state``), so it is not loaded again.

    A file already at one of those paths is replaced only when it is a vidswap report's (a
    remade report); anything else there is refused.

    Raises:
        InputError: no job. ConfigError: an unreadable job. OutputExistsError: another file is
        at the page's or a marker's path.
    """
    return _write(*load_report(target, job), page, every)


def write_stream_report(spec: PipelineSpec, schedule: Schedule, output: Path, *, stats: FaceStats | None,
                        render: RenderQCData | None, files: ModelFiles | None) -> ReportFiles:
    """Write the report of a streaming run that just wrote ``output``, from its own measures (see
    :func:`~vidswap.report.data.stream_report`), beside it as :func:`write_report` does.

    Raises:
        OutputExistsError: another file is at the page's or a marker's path.
    """
    from vidswap.report.data import stream_report

    return _write(*stream_report(spec, schedule, output, stats=stats, render=render, files=files), None, None)


def _write(data: ReportData, shot: Shot, page: Path | None, every: int | None) -> ReportFiles:
    from vidswap.jobs.store import write_atomic
    from vidswap.report.page import GENERATOR, report_page
    from vidswap.report.plots import plots
    from vidswap.report.sheet import contact_sheet

    page = page or default_report_path(shot.output)
    checks = frames_to_check(data)
    edl, timeline, csv = page.with_suffix(".edl"), page.with_suffix(".otio"), page.with_suffix(".csv")
    for path, mark in ((page, GENERATOR), (edl, EDL_TITLE), (timeline, OTIO_MARK), (csv, ",".join(CSV_COLUMNS))):
        _check_replaceable(path, mark)
    rows, note = contact_sheet(data, shot, every)
    write_atomic(edl, edl_text(data, checks).encode())
    write_atomic(timeline, otio_text(data, checks).encode())
    write_atomic(csv, csv_text(data, checks).encode())
    write_atomic(page, report_page(data, plots(data), checks, rows, note, (edl, timeline, csv)).encode())
    return ReportFiles(page, edl, timeline, csv, tuple(data.missing.values()))


def _check_replaceable(path: Path, mark: str) -> None:
    """Refuse to replace ``path`` unless it is missing or starts as a report's file does (``mark``
    in its first kilobyte)."""
    from vidswap.errors import OutputExistsError

    if path.is_symlink() or path.is_dir():
        raise OutputExistsError(f"{path}: is a link or a folder; give the report another path", setting="page")
    if path.exists():
        with path.open("rb") as file:
            head = file.read(1024)
        if mark.encode() not in head:
            raise OutputExistsError(f"{path}: exists and is not a vidswap QC report's; move it or give the report "
                                    "another path", setting="page")


def report_json(target: Path) -> dict[str, Any]:
    """The report's numbers: header, per frame, per track, the frames to check, what is missing."""
    data, _ = load_report(target)
    return {"header": data.header_json(), "missing": data.missing, "frames": data.frame_rows(),
            "tracks": data.track_rows(),
            "faces": _face_rows(data),
            "to_check": [{"frame": c.frame, "last_frame": c.last, "timecode": data.timecode(c.frame),
                          "measure": c.measure, "value": c.value, "note": c.note} for c in frames_to_check(data)]}


def _face_rows(data: ReportData) -> list[dict[str, Any]]:
    """Per swapped face the render measured: frame, track, source, identity (None with random
    weights), coverage of its box."""
    import math

    render = data.render
    if render is None:
        return []
    hide = bool(data.header.random_weights)
    return [{"frame": int(f), "track": int(t), "source": str(s),
             "identity": None if hide or math.isnan(i) else round(float(i), 6),
             "face_coverage": None if math.isnan(c) else round(float(c), 6)}
            for f, t, s, i, c in zip(render.face_frame, render.face_track, render.face_source, render.identity,
                                     render.face_coverage, strict=True)]
