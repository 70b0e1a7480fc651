"""A job owns its output, and damaged or edited job files give one ``error:`` line, never a
traceback, with the input's and the output's bytes unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.jobs.test_job import FRAMES, _options, _same_frames, _spec, media  # noqa: F401 (a fixture)
from vidswap.cli import main
from vidswap.jobs.job import run_job


@pytest.fixture(scope="module")
def done(media, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A finished job (2 segments); tests copy it."""
    folder = tmp_path_factory.mktemp("done")
    run_job(_spec(media, folder / "out.mkv"), folder / "job", segment_frames=12, options=_options())
    return folder


def _copy(done: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The job and its output under ``tmp_path``, with job.json and mux.json pointing there."""
    job, out = tmp_path / "job", tmp_path / "out.mkv"
    shutil.copytree(done / "job", job)
    shutil.copy(done / "out.mkv", out)
    for name in ("job.json", "mux.json"):
        data = json.loads((job / name).read_text())
        if name == "job.json":
            data["pipeline"]["output"]["path"] = str(out)
        else:
            data["output"] = str(out)
        (job / name).write_text(json.dumps(data))
    return job, out


def _one_error(args: list[str], *words: str) -> str:
    result = CliRunner().invoke(main, args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


class TestOutputOwnership:
    def test_a_foreign_file_at_the_output_is_refused(self, media, done, tmp_path: Path) -> None:  # noqa: F811
        job, out = _copy(done, tmp_path)
        out.write_bytes(b"someone else's edit")
        with pytest.raises(FileExistsError, match="with overwrite it is replaced"):
            run_job(_spec(media, out), job, options=_options())
        _one_error(["render", str(job), "--no-progress"], "is not what job", "--overwrite")
        assert out.read_bytes() == b"someone else's edit"

    def test_a_damaged_output_is_reported_and_repaired_with_overwrite(self, media, done, tmp_path: Path) -> None:  # noqa: F811
        job, out = _copy(done, tmp_path)
        out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])  # cut short
        report = json.loads(CliRunner().invoke(main, ["job", "show", str(job), "--json"]).stdout)
        assert report["output_state"] == "differs"
        summary = run_job(_spec(media, out, **{"output.overwrite": True}), job, options=_options())
        assert summary.rendered == [] and _same_frames(out, done / "out.mkv")
        report = json.loads(CliRunner().invoke(main, ["job", "show", str(job), "--json"]).stdout)
        assert report["output_state"] == "done"

    def test_an_edited_output_path_never_replaces_an_unrelated_file(self, done, tmp_path: Path) -> None:
        job, _ = _copy(done, tmp_path)
        unrelated = tmp_path / "notes.mkv"
        unrelated.write_bytes(b"not a render")
        data = json.loads((job / "job.json").read_text())
        data["pipeline"]["output"]["path"] = str(unrelated)
        (job / "job.json").write_text(json.dumps(data))
        _one_error(["render", str(job), "--no-progress"], str(unrelated))
        assert unrelated.read_bytes() == b"not a render"


@pytest.mark.parametrize(("damage", "words"), [
    (lambda job: (job / "job.json").write_bytes(b"\x00garbage{"), ("job.json: not readable as a job",)),
    (lambda job: (job / "job.json").write_text("[]"), ("job.json: job version 'list'",)),
    (lambda job: (job / "job.json").write_text("[" * 100000 + "]" * 100000), ("job.json: not readable",)),
    (lambda job: _edit(job, lambda d: d.pop("pipeline")), ("pipeline is missing",)),
    (lambda job: _edit(job, lambda d: d.update(segment_frames="12")), ("segment_frames is missing or not a int",)),
    (lambda job: _edit(job, lambda d: d.update(segment_frames=0)), ("segment_frames must be at least 1",)),
    (lambda job: _edit(job, lambda d: d["pipeline"]["output"].update(path="../../../escaped.mkv")),
     ("pipeline.output.path is a relative path",)),
    (lambda job: (job / "faces.npz").write_bytes(b"garbage"), ("faces.npz: not readable as job data",)),
    (lambda job: np.savez(job / "faces.npz", frame=np.array([object()], dtype=object)),
     ("faces.npz: not readable as job data",)),
])
def test_damaged_job_files_give_one_error_line(done, tmp_path: Path, damage, words) -> None:
    job, out = _copy(done, tmp_path)
    before = out.read_bytes()
    damage(job)
    for command in (["job", "show", str(job)], ["render", str(job), "--no-progress"]):
        _one_error(command, *words)
    assert out.read_bytes() == before and not (tmp_path / "escaped.mkv").exists()


def _edit(job: Path, change) -> None:
    data = json.loads((job / "job.json").read_text())
    change(data)
    (job / "job.json").write_text(json.dumps(data))


def test_an_output_name_too_long_is_one_error_line(media, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / ("x" * 300 + ".mkv")
    _one_error(["run", str(media["clip"]), "-s", str(media["photo"]), "--model", str(media["tiny"]), "-o", str(out),
                "--codec", "ffv1", "--no-progress"], "File name too long")


def test_a_job_of_an_older_version_renders_again_with_force(media, done, tmp_path: Path) -> None:  # noqa: F811
    job, out = _copy(done, tmp_path)
    _edit(job, lambda d: d.update(version=1))
    _one_error(["job", "show", str(job)], "job version 1, this vidswap reads version 2", "with force")
    with pytest.raises(ValueError, match="job version 1"):
        run_job(_spec(media, out), job, options=_options())
    summary = run_job(_spec(media, out, **{"output.overwrite": True}), job, force=True, options=_options())
    assert summary.analysed and _same_frames(out, done / "out.mkv")


class TestClean:
    def test_a_done_job_is_removed_and_its_output_kept(self, done, tmp_path: Path) -> None:
        job, out = _copy(done, tmp_path)
        before = out.read_bytes()
        result = CliRunner().invoke(main, ["job", "clean", str(job)])
        assert result.exit_code == 0, result.output
        assert not job.exists() and out.read_bytes() == before
        assert result.stderr.startswith(f"removed {job} (")

    def test_a_job_not_done_is_kept_unless_forced(self, done, tmp_path: Path) -> None:
        job, out = _copy(done, tmp_path)
        out.unlink()
        _one_error(["job", "clean", str(job)], "is not done (missing)", "with --force")
        assert (job / "job.json").is_file()
        assert CliRunner().invoke(main, ["job", "clean", str(job), "--force"]).exit_code == 0
        assert not job.exists()

    def test_a_linked_job_is_refused(self, done, tmp_path: Path) -> None:
        job, _ = _copy(done, tmp_path)
        link = tmp_path / "link"
        link.symlink_to(job, target_is_directory=True)
        _one_error(["job", "clean", str(link)], "is a link")
        assert (job / "job.json").is_file()


def test_run_without_a_source_names_the_option(media, tmp_path: Path) -> None:  # noqa: F811
    _one_error(["run", str(media["clip"]), "-o", str(tmp_path / "o.mkv")], "--source PHOTO")
