"""The report as one self-contained HTML page: styles inline, every image a ``data:`` URI, no
script and nothing fetched, so it can be mailed or archived with the shot."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from vidswap.report.data import RANDOM_NOTE, ReportData
from vidswap.report.markers import Check
from vidswap.report.plots import Plot
from vidswap.report.sheet import SheetRow

__all__ = ["GENERATOR", "report_page"]

#: What marks a page as a vidswap report (a file without it is never replaced by one).
GENERATOR = '<meta name="generator" content="vidswap QC report">'

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 3px 8px; border: 1px solid #ddd; text-align: left;
  vertical-align: top; } th { background: #eee; }
.missing { background: #fff3cd; border: 1px solid #e0c060; padding: 6px 10px; margin: 4px 0; }
.sheet img { display: block; width: 160px; } .sheet td.cut { background: #fde2e2; }
.plot img { max-width: 100%; } .none { color: #888; font-style: italic; }
pre { background: #f0f0f0; padding: 8px; overflow-x: auto; font-size: 12px; }
"""


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _image(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{escape(alt)}">' if uri else '<span class="none">none</span>'


def report_page(data: ReportData, plots: list[Plot], checks: list[Check], sheet: list[SheetRow],
                sheet_note: str | None, markers: tuple[Path, Path, Path] | None = None) -> str:
    """The page.

    Args:
        data: the numbers; plots, checks, sheet: the parts made from them.
        sheet_note: why a column of the contact sheet is empty (None: none is).
        markers: the EDL, OpenTimelineIO and CSV files written beside the page.
    """
    h = data.header
    weights = "".join(f"<li>{escape(w.name)}: {escape(w.path)} — licence <b>{escape(w.licence)}</b>, from "
                      f"{escape(w.source)}{f', sha256 {w.sha256[:16]}…' if w.sha256 else ''}</li>" for w in h.weights)
    render = (f"{h.render_seconds:.2f} s, {h.render_fps:.2f} frames/s" if h.render_seconds and h.render_fps
              else '<span class="none">not recorded</span>')
    header = _table([
        ("input", escape(h.input)), ("output", escape(h.output)),
        ("frames", f"{h.frames} (input frames {h.first}–{h.first + h.frames - 1})"),
        ("fps", f"{float(h.fps):.3f} ({h.fps})"), ("start timecode", escape(h.start_timecode)),
        ("duration", f"{h.duration:.3f} s"), ("model", escape(h.model)),
        ("weights", f"<ul>{weights}</ul>" if weights else '<span class="none">unknown</span>'),
        ("identity figures", f"<b>{RANDOM_NOTE}</b>" if h.random_weights else "from the model's own identity encoder"),
        ("settings hash", f"<code>{h.settings_hash}</code>"),
        ("vidswap", escape(f"{h.version} (output made with {h.made_with or 'unknown'})")),
        ("render", render)])
    missing = "".join(f'<div class="missing">{escape(line)}</div>' for line in data.missing.values())
    figures = "".join(
        f'<div class="plot"><h3>{escape(p.title)}</h3>'
        + (_image(p.image, p.title) if p.image else f'<div class="missing">{escape(p.why or "")}</div>') + "</div>"
        for p in plots)
    check_rows = "".join(
        f"<tr><td>{c.frame}{f'–{c.last}' if c.last != c.frame else ''}</td><td>{escape(data.timecode(c.frame))}</td>"
        f"<td>{escape(c.measure)}</td><td>{escape(c.note)}</td></tr>" for c in checks)
    checks_html = (f"<table><tr><th>frame</th><th>timecode</th><th>measure</th><th>what</th></tr>{check_rows}</table>"
                   if checks else '<p class="none">nothing to check</p>')
    if markers:
        edl, timeline, table = (escape(m.name) for m in markers)
        checks_html += f"<p>Markers: {edl} (EDL, locators), {timeline} (OpenTimelineIO), {table} (CSV).</p>"
    sheet_rows = "".join(
        f'<tr><td{" class=cut" if r.cut else ""}>{r.frame}<br>{escape(r.timecode)}{"<br>cut" if r.cut else ""}</td>'
        f"<td>{_image(r.input, 'input')}</td><td>{_image(r.output, 'output')}</td><td>{_image(r.matte, 'matte')}</td>"
        "</tr>" for r in sheet)
    note = f'<div class="missing">{escape(sheet_note)}</div>' if sheet_note else ""
    tracks = data.track_rows()
    track_html = ("<table><tr>" + "".join(f"<th>{escape(k)}</th>" for k in tracks[0]) + "</tr>"
                  + "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in t.values()) + "</tr>"
                            for t in tracks) + "</table>") if tracks else '<p class="none">no tracks</p>'
    settings = escape(json.dumps(h.settings, indent=1))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{GENERATOR}<title>vidswap QC: '
            f"{escape(Path(h.output).name)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>vidswap QC report: {escape(Path(h.output).name)}</h1>"
            f'<h2 id="header">Header</h2>{header}{missing}'
            f'<h2 id="plots">Plots</h2>{figures}'
            f'<h2 id="check">Frames to check</h2>{checks_html}'
            f'<h2 id="sheet">Contact sheet</h2>{note}<table class="sheet"><tr><th>frame</th><th>input</th>'
            f"<th>output</th><th>matte</th></tr>{sheet_rows}</table>"
            f'<h2 id="tracks">Tracks</h2>{track_html}'
            f'<h2 id="settings">Settings</h2><pre>{settings}</pre></body></html>')
