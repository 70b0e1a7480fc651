"""``vidswap report`` on a generated clip's job (tiny random model, stub detector blind in one
frame): every section, the JSON against what the render did, the markers, missing render data,
and the page in a real headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.io.media import frame_image, make_clip
from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo
from tests.report.helpers import MissingDetector, trained_weights
from vidswap import __version__
from vidswap.cli import main
from vidswap.io.timecode import shift_timecode
from vidswap.jobs.job import JobSummary, default_job_dir, run_job, with_range_override
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.qc import FACE_QC_FILE, load_render_qc, segment_qc_file, sheet_frames
from vidswap.pipeline.session import RunOptions
from vidswap.report.build import report_json, write_report
from vidswap.report.data import RANDOM_NOTE

FRAMES, SEGMENT, MISS, WIDTH, HEIGHT = 24, 8, 10, 96, 64
START = "01:00:00:00"
RATE = Fraction(25)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    return {"tiny": make_tiny_model(folder / "tiny.safetensors"),
            "clip": make_clip(folder / "shot.mov", frames=FRAMES, width=WIDTH, height=HEIGHT, timecode=START),
            "photo": write_photo(folder / "me.png", frame_image(3, 128, 128))}


def _spec(media: dict[str, Path], out: Path):
    return pipeline_from_options({"input": str(media["clip"]), "sources.me": [str(media["photo"])],
                                  "output.path": str(out), "model.path": str(media["tiny"]),
                                  "model.batch_size": 3, "encode.codec": "ffv1"})


@pytest.fixture(scope="module")
def rendered(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> JobSummary:
    """A job rendered; the detector misses frame MISS (so it is filled)."""
    folder = tmp_path_factory.mktemp("wired")
    options = RunOptions(progress=False, detector=MissingDetector(MISS, (HEIGHT, WIDTH)))
    summary = run_job(_spec(media, folder / "out.mkv"), default_job_dir(folder / "out.mkv"), segment_frames=SEGMENT,
                      options=options)
    assert summary.output is not None
    return summary


@pytest.fixture(scope="module")
def page(rendered: JobSummary) -> Path:
    assert rendered.output is not None
    return write_report(rendered.output).page


def _tc(frame: int) -> str:
    return shift_timecode(START, frame, RATE)


class TestPage:
    def test_every_section_with_frames_and_timecodes(self, rendered: JobSummary, page: Path) -> None:
        assert page == rendered.output.with_name("out.mkv.report.html")  # type: ignore[union-attr]
        text = page.read_text()
        for section in ("header", "plots", "check", "sheet", "tracks", "settings"):
            assert f'id="{section}"' in text
        assert f"<th>frames</th><td>{FRAMES} (input frames 0–{FRAMES - 1})</td>" in text
        assert f"<th>start timecode</th><td>{START}</td>" in text
        assert "licence <b>none (random weights)</b>" in text and RANDOM_NOTE in text
        assert f"output made with vidswap {__version__}" in text
        assert "not recorded" not in text and 'class="missing"' in text  # only the identity plot is withheld
        rows = re.findall(r"<tr><td(?: class=cut)?>(\d+)<br>([0-9:;]+)", text)
        cuts = [int(i) for i, _ in rows if f"<td class=cut>{i}<br>" in text]
        assert [int(i) for i, _ in rows] == sheet_frames(0, FRAMES, cuts)
        assert all(tc == _tc(int(i)) for i, tc in rows)
        # Self-contained: every image inline, nothing to fetch.
        sources = re.findall(r'src="([^"]*)"', text)
        assert sources and all(s.startswith("data:image/") for s in sources)
        assert "http://" not in text and "https://" not in text and "<script" not in text
        assert len(re.findall(r'src="data:image/png', text)) >= 5 + len(rows)  # plots and the mattes

    def test_json_matches_the_render(self, rendered: JobSummary) -> None:
        data = report_json(rendered.job)
        frames = data["frames"]
        assert [f["frame"] for f in frames] == list(range(FRAMES))
        assert [f["timecode"] for f in frames] == [_tc(i) for i in range(FRAMES)]
        assert sum(f["swapped"] for f in frames) == rendered.faces_swapped == FRAMES
        assert [f["frame"] for f in frames if f["filled"]] == [MISS]
        assert [f["frame"] for f in frames if f["detected"] == 0] == [MISS]
        assert all(f["not_swapped"] == 0 and f["coverage"] > 0 for f in frames)
        assert all(f["identity"] is None for f in frames)  # random weights: no figures shown
        assert len(data["faces"]) == FRAMES and all(f["identity"] is None for f in data["faces"])
        assert data["header"]["random_weights"] is True and data["header"]["identity_note"] == RANDOM_NOTE
        assert data["header"]["frames"] == FRAMES and data["header"]["start_timecode"] == START
        assert data["header"]["render_seconds"] > 0 and data["missing"] == {}
        [track] = data["tracks"]
        assert track["filled"] == 1 and track["swapped"] and track["first"] == 0 and track["last"] == FRAMES - 1
        assert track["jitter_smooth"] <= track["jitter_raw"] + 1e-9
        measured = load_render_qc(segment_qc_file(rendered.job / "segments" / "00000.nut"))
        assert np.all(np.abs(measured.identity) <= 1) and np.isfinite(measured.identity).all()  # measured, not shown

    def test_markers_point_at_the_frames(self, rendered: JobSummary, page: Path) -> None:
        rows = list(csv.DictReader(io.StringIO(page.with_suffix(".csv").read_text())))
        filled = [r for r in rows if r["measure"] == "filled"]
        assert [(r["frame"], r["last_frame"], r["timecode"]) for r in filled] == [(str(MISS), str(MISS), _tc(MISS))]
        assert not [r for r in rows if r["measure"] in ("fallback", "identity")]
        coverage = [r for r in rows if r["measure"] == "coverage"]
        jitter = [r for r in rows if r["measure"] == "jitter"]
        assert len(coverage) == 5 and len(jitter) == 5
        values = {f["frame"]: f for f in report_json(rendered.job)["frames"]}
        lowest = sorted(values.values(), key=lambda f: f["coverage"])[:5]
        assert [int(r["frame"]) for r in coverage] == [f["frame"] for f in lowest]
        edl = page.with_suffix(".edl").read_text().splitlines()
        assert edl[1] == "FCM: NON-DROP FRAME"
        event = edl[3].split()
        assert event[:4] == ["001", "AX", "V", "C"] and event[4] == START and event[5] == _tc(FRAMES)
        locators = [line.split()[2] for line in edl if line.startswith("* LOC: ")]
        assert locators == [r["timecode"] for r in rows]
        # The same markers in OpenTimelineIO, read back by OTIO itself, on the clip in source timecode.
        import opentimelineio as otio

        timeline = otio.adapters.read_from_file(str(page.with_suffix(".otio")))
        (clip,) = timeline.tracks[0]
        rate = clip.source_range.start_time.rate
        assert otio.opentime.to_timecode(clip.source_range.start_time, rate) == START
        assert clip.source_range.duration.value == FRAMES
        assert [(m.name, otio.opentime.to_timecode(m.marked_range.start_time, rate), m.marked_range.duration.value)
                for m in clip.markers] == [(r["measure"], r["timecode"], int(r["last_frame"]) - int(r["frame"]) + 1)
                                           for r in rows]
        assert {m.color for m in clip.markers} <= {"RED", "YELLOW", "MAGENTA", "CYAN", "BLUE"}

    def test_the_command(self, rendered: JobSummary, tmp_path: Path) -> None:
        out = tmp_path / "qc.html"
        result = CliRunner().invoke(main, ["report", str(rendered.output), "-o", str(out), "--every", "6"])
        assert result.exit_code == 0, result.output
        assert out.is_file() and out.with_suffix(".edl").is_file() and out.with_suffix(".csv").is_file()
        result = CliRunner().invoke(main, ["report", str(rendered.job), "--json"])
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.stdout)["frames"]) == FRAMES
        result = CliRunner().invoke(main, ["report", str(tmp_path)])
        assert result.exit_code == 1 and "no vidswap job" in result.output


def test_missing_render_data_is_named(media: dict[str, Path], tmp_path: Path) -> None:
    """A job whose measures are gone (made before the report existed, or deleted) still gets a
    report, naming what it lacks."""
    summary = run_job(_spec(media, tmp_path / "out.mkv"), tmp_path / "job", segment_frames=SEGMENT,
                      options=RunOptions(progress=False, detector=StubDetector()))
    assert summary.output is not None
    measures = [tmp_path / "job" / FACE_QC_FILE, *(tmp_path / "job" / "segments").glob("*.qc.npz")]
    assert len(measures) == 1 + FRAMES // SEGMENT
    for path in measures:
        path.unlink()
    written = write_report(summary.job)
    assert len(written.missing) == 3  # face pass, render measures, render time
    text = written.page.read_text()
    assert all(line.replace("'", "&#x27;") in text for line in written.missing)
    frames = report_json(summary.job)["frames"]
    assert len(frames) == FRAMES and all(f["swapped"] is None and f["coverage"] is None for f in frames)


def test_segments_rendered_again_without_measures_are_named(media: dict[str, Path], tmp_path: Path) -> None:
    """A segment's measures count only while its fingerprint holds: the old measures of a range
    re-rendered since (here put back over the new ones) are dropped and named."""
    out = tmp_path / "out.mkv"
    run_job(_spec(media, out), default_job_dir(out), segment_frames=SEGMENT,
            options=RunOptions(progress=False, detector=StubDetector()))
    measures = segment_qc_file(default_job_dir(out) / "segments" / "00001.nut")
    old = measures.read_bytes()
    changed = with_range_override(_spec(media, out), "9-10", {"mask.blur": 0.2})
    summary = run_job(changed, default_job_dir(out), options=RunOptions(progress=False, detector=StubDetector()))
    assert summary.rendered == [1]
    measures.write_bytes(old)
    data = report_json(out)
    assert "segment(s) 1 " in data["missing"]["render"]
    coverage = [f["coverage"] for f in data["frames"]]
    assert all(c is None for c in coverage[SEGMENT:2 * SEGMENT]) and all(c is not None for c in coverage[:SEGMENT])


def test_identity_shown_with_trained_weights(media: dict[str, Path], tmp_path: Path) -> None:
    """With weights that are not a random test model, the identity figures are the render's."""
    out = tmp_path / "out.mkv"
    with trained_weights():
        run_job(_spec(media, out), default_job_dir(out), segment_frames=SEGMENT,
                options=RunOptions(progress=False, detector=StubDetector()))
    data = report_json(out)
    measured = np.concatenate([load_render_qc(segment_qc_file(default_job_dir(out) / "segments" / f"0000{i}.nut"))
                               .identity for i in range(FRAMES // SEGMENT)])
    assert [f["identity"] for f in data["faces"]] == pytest.approx(measured.tolist(), abs=1e-6)
    assert [f["identity"] for f in data["frames"]] == pytest.approx(measured.tolist(), abs=1e-6)  # one face each
    assert data["header"]["identity_note"] is None and data["tracks"][0]["identity_min"] == pytest.approx(
        measured.min(), abs=1e-6)
    identity = [r for r in data["to_check"] if r["measure"] == "identity"]
    assert [r["frame"] for r in identity] == np.argsort(measured, kind="stable")[:5].tolist()
    text = write_report(out).page.read_text()
    assert RANDOM_NOTE not in text and 'alt="Identity similarity' in text


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_renders_in_chromium(page: Path, tmp_path: Path) -> None:
    import cv2

    shot = tmp_path / "page.png"
    subprocess.run([_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,4000",
                    page.as_uri()], check=True, capture_output=True, timeout=120)
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (4000, 1280)
    colours = np.unique(image.reshape(-1, 3) // 8, axis=0)
    assert len(colours) > 200, "the page looks blank"
    # Plot-like: rows with long runs of the plots' blue and orange lines drawn.
    blue = np.all(np.abs(image.astype(int) - (180, 119, 31)) < 40, axis=-1)  # matplotlib tab:blue, BGR
    assert blue.sum() > 2000, "no plot lines on the page"


def test_every_job_run_leaves_its_report(media: dict[str, Path], tmp_path: Path) -> None:
    """`vidswap run` as a job writes OUTPUT.report.html (and its markers) and says where; a file of
    someone else's at that path is never replaced: the run still succeeds, with one warning line."""
    from unittest.mock import patch

    out = tmp_path / "out.mkv"

    def run(*extra: str):
        return CliRunner().invoke(main, ["run", str(media["clip"]), "-s", str(media["photo"]), "--model",
                                         str(media["tiny"]), "-o", str(out), "--codec", "ffv1", "--segment-frames",
                                         str(SEGMENT), "--no-progress", *extra])

    with patch("vidswap.faces.detect.create_detector", lambda *a, **k: StubDetector()):
        result = run()
        assert result.exit_code == 0, result.output
        page = out.with_name("out.mkv.report.html")
        assert f"report: {page}" in result.stderr
        assert page.is_file() and page.with_suffix(".edl").is_file() and page.with_suffix(".csv").is_file()
        assert "<h2 id=\"plots\">" in page.read_text()
        remade = run()  # the same command again: nothing to render, the report is remade
        assert remade.exit_code == 0 and f"report: {page}" in remade.stderr
        page.write_text("my notes on this shot\n")
        kept = run("--overwrite")
    assert kept.exit_code == 0, kept.output
    assert page.read_text() == "my notes on this shot\n"
    warnings = [line for line in kept.stderr.splitlines() if line.startswith("warning: no QC report")]
    assert len(warnings) == 1 and "is not a vidswap QC report's" in warnings[0] and str(page) in warnings[0]
    refused = CliRunner().invoke(main, ["report", str(out), "-o", str(page)])
    assert refused.exit_code == 1 and refused.output.count("\n") == 1 and "is not a vidswap QC report's" in (
        refused.output)
    assert page.read_text() == "my notes on this shot\n"


def test_a_streaming_run_leaves_its_report(media: dict[str, Path], tmp_path: Path) -> None:
    """`vidswap run --no-job` keeps no state, so it writes its report as it ends, from its own
    measures: every section, the render's frame count, the faces it swapped."""
    from unittest.mock import patch

    out = tmp_path / "out.mkv"
    with patch("vidswap.faces.detect.create_detector", lambda *a, **k: StubDetector()):
        result = CliRunner().invoke(main, ["run", str(media["clip"]), "-s", str(media["photo"]), "--model",
                                           str(media["tiny"]), "-o", str(out), "--codec", "ffv1", "--no-job",
                                           "--no-progress"])
    assert result.exit_code == 0, result.output
    page = out.with_name("out.mkv.report.html")
    assert f"report: {page}" in result.stderr and not out.with_name("out.mkv.vidswap-job").exists()
    text = page.read_text()
    for section in ("header", "plots", "check", "sheet", "tracks", "settings"):
        assert f'<h2 id="{section}">' in text
    assert text.count('src="data:image/') > 3 * (FRAMES // 4)  # plots, and input | output | matte per sheet row
    assert "not measured" not in text and RANDOM_NOTE in text
