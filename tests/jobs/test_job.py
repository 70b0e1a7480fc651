"""Jobs on a generated clip with the tiny random model and the stub detector (no ../shared):
resume after SIGKILL, range re-renders, Ray, changed inputs, the lock, and the commands."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from click.testing import CliRunner

from tests.io.media import frame_image, make_clip, stream_packets
from tests.pipeline.run_helpers import StubDetector, decode, make_tiny_model, packet_pts, write_photo
from vidswap.cli import main
from vidswap.errors import JobChangedError, JobLockedError
from vidswap.jobs.job import load_job, run_job
from vidswap.jobs.store import JobStore
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.runner import run_pipeline
from vidswap.pipeline.session import RunOptions

FRAMES, SEGMENT = 24, 4  # 6 segments


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    return {"tiny": make_tiny_model(folder / "tiny.safetensors"),
            "clip": make_clip(folder / "shot.mp4", frames=FRAMES, width=96, height=64),
            "photo": write_photo(folder / "me.png", frame_image(3, 128, 128))}


def _spec(media: dict[str, Path], out: Path, **options):
    return pipeline_from_options({"input": str(media["clip"]), "sources.me": [str(media["photo"])],
                                  "output.path": str(out), "model.path": str(media["tiny"]),
                                  "model.batch_size": 3, "encode.codec": "ffv1", **options})


def _options() -> RunOptions:
    return RunOptions(progress=False, detector=StubDetector())


@pytest.fixture(scope="module")
def reference(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted job render."""
    folder = tmp_path_factory.mktemp("reference")
    summary = run_job(_spec(media, folder / "out.mkv"), folder / "job", segment_frames=SEGMENT, options=_options())
    assert summary.output == folder / "out.mkv" and summary.rendered == list(range(FRAMES // SEGMENT))
    return summary.output


def _same_frames(a: Path, b: Path) -> bool:
    got, want = decode(a), decode(b)
    return len(got) == len(want) and all(np.array_equal(x, y) for x, y in zip(got, want, strict=True))


def _markers(job: Path) -> list[Path]:
    """The segments' completion markers (not a marker's temporary, ``.00001.vidswap-tmp-….json``)."""
    return [p for p in job.glob("segments/*.json") if not p.name.startswith(".")]


def _digests(job: Path) -> dict[str, tuple[str, int, int]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted((job / "segments").glob("*.nut"))}


class TestRunJob:
    def test_equals_a_streaming_run(self, media, reference, tmp_path: Path) -> None:
        plain = tmp_path / "plain.mkv"
        run_pipeline(_spec(media, plain), _options())
        assert _same_frames(reference, plain)
        assert packet_pts(reference) == packet_pts(plain)  # (Matroska moves both by the audio priming)
        assert stream_packets(reference, "audio") == stream_packets(plain, "audio")

    def test_second_run_renders_nothing(self, media, reference) -> None:
        job = reference.with_name("job")
        before = _digests(job)
        summary = run_job(_spec(media, reference), job, options=_options())
        assert (summary.rendered, summary.analysed, summary.output) == ([], False, reference)
        assert _digests(job) == before

    def test_lossy_output_keeps_every_pts(self, media, tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        run_job(_spec(media, out, **{"encode.codec": "libx264", "encode.preset": "ultrafast"}), tmp_path / "job",
                segment_frames=5, options=_options())
        assert packet_pts(out) == packet_pts(media["clip"])
        assert stream_packets(out, "audio") == stream_packets(media["clip"], "audio")


class TestResume:
    @pytest.mark.parametrize("kill_after", ["start", 1, 3, "random"])
    def test_sigkill_then_resume_equals_uninterrupted(self, media, reference, tmp_path: Path, kill_after) -> None:
        out, job = tmp_path / "out.mkv", tmp_path / "job"
        spec_file = tmp_path / "spec.json"
        spec_file.write_text(_spec(media, out).to_json())
        child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("job_child.py")), str(spec_file),
                                  str(job), str(SEGMENT)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        if kill_after == "start":  # during the face pass, before job.json
            while not (job / "segments").exists() and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.005)
        elif kill_after == "random":
            while not (job / "job.json").exists() and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.005)
            time.sleep(random.uniform(0.0, 0.8))
        else:
            while len(_markers(job)) < kill_after and time.monotonic() < deadline \
                    and child.poll() is None:
                time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()[-2000:]
        assert not out.exists()  # the output path never holds a partial file
        done, made = len(_markers(job)), (job / "job.json").exists()
        assert done < FRAMES // SEGMENT
        summary = run_job(_spec(media, out), job, segment_frames=SEGMENT, options=_options())
        assert summary.analysed is not made and len(summary.rendered) == FRAMES // SEGMENT - done
        assert _same_frames(out, reference)
        assert packet_pts(out) == packet_pts(reference)

    def test_torn_segments_are_redone(self, media, reference, tmp_path: Path) -> None:
        job = tmp_path / "job"
        shutil.copytree(reference.with_name("job"), job)
        segments = sorted((job / "segments").glob("*.nut"))
        segments[1].write_bytes(segments[1].read_bytes()[: segments[1].stat().st_size // 2])  # cut short
        marker = json.loads(segments[2].with_suffix(".json").read_text())
        segments[2].with_suffix(".json").write_text(json.dumps({**marker, "frames": SEGMENT + 1}))  # wrong count
        segments[4].with_suffix(".json").unlink()  # no marker
        states = load_job(JobStore(job)).states()
        assert [states[i] for i in (1, 2, 4)] == ["torn", "torn", "torn"] and states[0] == "done"
        out = tmp_path / "out.mkv"
        summary = run_job(_spec(media, out), job, options=_options())
        assert summary.rendered == [1, 2, 4]
        assert _same_frames(out, reference)


class TestRangeReprocessing:
    def test_only_touched_segments_rewritten_and_frames_equal_a_full_render(self, media, reference,
                                                                            tmp_path: Path) -> None:
        job, out = tmp_path / "job", tmp_path / "out.mkv"
        run_job(_spec(media, out), job, segment_frames=SEGMENT, options=_options())
        before = _digests(job)
        result = CliRunner().invoke(main, ["run", str(job), "--frames", "9-12", "--set", "mask.blur=0.2",
                                           "--no-progress", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout.splitlines()[0])["rendered"] == [2, 3]  # frames 8-11 and 12-15
        after = _digests(job)
        assert {k for k in before if before[k] != after[k]} == {"00002.nut", "00003.nut"}
        # A fresh job made with the same override from the start gives every frame the same.
        full = tmp_path / "full.mkv"
        spec = _spec(media, full, overrides=[{"frames": "9-12", "mask": {"blur": 0.2}}])
        run_job(spec, tmp_path / "full-job", segment_frames=SEGMENT, options=_options())
        assert _same_frames(out, full)
        got, old = decode(out), decode(reference)
        changed = [i for i in range(FRAMES) if not np.array_equal(got[i], old[i])]
        assert changed and set(changed) <= set(range(9, 13))
        show = CliRunner().invoke(main, ["job", "show", str(job), "--json"])
        report = json.loads(show.stdout)
        assert report["overrides"] == [{"frames": "9-12", "changes": ["mask"], "segments": [2, 3]}]
        assert report["counts"]["done"] == FRAMES // SEGMENT and report["output_state"] == "done"

    def test_setting_outside_the_range_sections_is_refused(self, media, reference) -> None:
        result = CliRunner().invoke(main, ["run", str(reference.with_name("job")), "--frames", "2-3",
                                           "--set", "encode.threads=2", "--no-progress"])
        assert result.exit_code == 1 and "encode cannot change for a frame range" in result.output


class TestBadStates:
    def test_changed_photo_is_refused_naming_it(self, media, tmp_path: Path) -> None:
        photo = shutil.copy(media["photo"], tmp_path / "me.png")
        spec = _spec({**media, "photo": Path(photo)}, tmp_path / "out.mkv")
        run_job(spec, tmp_path / "job", segment_frames=12, options=_options())
        write_photo(Path(photo), frame_image(5, 128, 128))
        with pytest.raises(JobChangedError, match="me.png: changed since job"):
            run_job(spec, tmp_path / "job", options=_options())
        assert run_job(spec, tmp_path / "job", force=True, options=_options()).rendered == [0, 1]

    def test_lock_refuses_a_second_renderer(self, media, reference) -> None:
        job = reference.with_name("job")
        with JobStore(job).lock():
            with pytest.raises(JobLockedError, match="is locked"):
                run_job(_spec(media, reference), job, options=_options())
            result = CliRunner().invoke(main, ["render", str(job), "--no-progress"])
            assert result.exit_code == 1 and "another vidswap run or render" in result.output


class TestRenderCommand:
    def test_slices_then_mux_when_the_last_is_done(self, media, reference, tmp_path: Path) -> None:
        job = tmp_path / "job"
        shutil.copytree(reference.with_name("job"), job)
        data = json.loads((job / "job.json").read_text())
        out = tmp_path / "out.mkv"
        data["pipeline"]["output"]["path"] = str(out)
        (job / "job.json").write_text(json.dumps(data))
        for name in ("00001", "00004"):
            (job / "segments" / f"{name}.json").unlink()
            (job / "segments" / f"{name}.nut").unlink()
        first = CliRunner().invoke(main, ["render", str(job), "--segments", "0-1", "--no-progress", "--json"])
        assert first.exit_code == 0, first.output
        assert json.loads(first.stdout) == {"job": str(job), "rendered": [1], "output": None, "remaining": [4]}
        assert not out.exists()
        last = CliRunner().invoke(main, ["render", str(job), "--segments", "4", "--no-progress", "--json"])
        assert json.loads(last.stdout)["output"] == str(out)
        assert _same_frames(out, reference)

    def test_refuses_a_changed_input(self, media, tmp_path: Path) -> None:
        """A farm node checks the recorded hashes: segments of a replaced input are never joined."""
        clip = shutil.copy(media["clip"], tmp_path / "shot.mp4")
        out, job = tmp_path / "out.mkv", tmp_path / "job"
        run_job(_spec({**media, "clip": Path(clip)}, out), job, segment_frames=12, options=_options())
        make_clip(Path(clip), frames=FRAMES, width=96, height=64, codec="ffv1")  # another video, same length
        for name in ("00001.json", "00001.nut"):
            (job / "segments" / name).unlink()
        before = out.read_bytes()
        result = CliRunner().invoke(main, ["render", str(job), "--no-progress"])
        assert result.exit_code == 1
        assert result.stderr.strip() == (f"error: {Path(clip).resolve()}: changed since job {job} was made (sha256 "
                                         f"differs); restore the old one, or render the job again with the new file "
                                         f"with `vidswap run JOB --force`")
        assert not (job / "segments" / "00001.nut").exists() and out.read_bytes() == before
        show = CliRunner().invoke(main, ["job", "show", str(job), "--json"])
        report = json.loads(show.stdout)
        assert report["changed_files"] == {str(Path(clip).resolve()): "changed"}
        assert report["output_state"] == "inputs changed"

    def test_bad_slice(self, reference) -> None:
        result = CliRunner().invoke(main, ["render", str(reference.with_name("job")), "--segments", "3-99"])
        assert result.exit_code == 1 and "the job has segments 0-5" in result.output


class TestRay:
    def test_local_cluster_renders_the_same_frames(self, media, reference, tmp_path: Path, capsys) -> None:
        ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'vidswap[ray]' to run this test")
        import torch

        from vidswap.jobs.executors import RayExecutor

        root = str(Path(__file__).resolve().parents[2])
        # Ray gives each worker one CPU thread; torch on CPU sums in a thread-count-dependent
        # order (1 LSB apart), so workers use this process's thread count for bit-equal frames.
        threads = str(torch.get_num_threads())
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": root, "OMP_NUM_THREADS": threads}})
        try:
            out = tmp_path / "out.mkv"
            summary = run_job(_spec(media, out), tmp_path / "job", segment_frames=SEGMENT,
                              executor=RayExecutor(progress=True), options=_options())
        finally:
            ray.shutdown()
        assert sorted(summary.rendered) == list(range(FRAMES // SEGMENT))
        assert _same_frames(out, reference)
        # Off a terminal, the frames the actors finished, with frames/s, as plain lines.
        assert f"render: {FRAMES}/{FRAMES} frames, " in capsys.readouterr().err


class TestRerunKeepsWork:
    """Running an earlier command again never drops a recorded override or replaces a render silently."""

    def _run(self, media, out: Path, *extra: str):
        return CliRunner().invoke(main, ["run", str(media["clip"]), "-s", str(media["photo"]), "--model",
                                         str(media["tiny"]), "-o", str(out), "--codec", "ffv1", "--segment-frames",
                                         str(SEGMENT), "--no-progress", "--json", *extra])

    def test_the_first_command_again_keeps_a_range_fix(self, media, tmp_path: Path) -> None:
        out = tmp_path / "out.mkv"
        with patch("vidswap.faces.detect.create_detector", lambda *a, **k: StubDetector()):
            assert self._run(media, out).exit_code == 0
            fix = CliRunner().invoke(main, ["run", f"{out}.vidswap-job", "--frames", "9-12", "--set",
                                            "mask.blur=0.2", "--no-progress"])
            assert fix.exit_code == 0, fix.output
            fixed = decode(out)
            again = self._run(media, out)
        assert again.exit_code == 0, again.output
        assert "keeping the job's override of frames 9-12 (mask)" in again.stderr
        assert json.loads(again.stdout.splitlines()[0])["rendered"] == []
        assert all(np.array_equal(a, b) for a, b in zip(decode(out), fixed, strict=True))

    def test_other_sources_are_refused_without_overwrite(self, media, tmp_path: Path) -> None:
        out = tmp_path / "out.mkv"
        other = write_photo(tmp_path / "you.png", frame_image(7, 128, 128))
        with patch("vidswap.faces.detect.create_detector", lambda *a, **k: StubDetector()):
            assert self._run(media, out).exit_code == 0
            before = out.read_bytes()
            refused = CliRunner().invoke(main, ["run", str(media["clip"]), "-s", str(other), "--model",
                                                str(media["tiny"]), "-o", str(out), "--codec", "ffv1", "--no-progress"])
            assert refused.exit_code == 1
            assert "renders it from other sources than this command gives; with --overwrite" in refused.stderr
            assert out.read_bytes() == before
            replaced = CliRunner().invoke(main, ["run", str(media["clip"]), "-s", str(other), "--model",
                                                 str(media["tiny"]), "-o", str(out), "--codec", "ffv1",
                                                 "--no-progress", "--overwrite"])
        assert replaced.exit_code == 0, replaced.output
        assert out.read_bytes() != before

    def test_a_job_made_for_a_range_resumes_with_the_same_command(self, media, tmp_path: Path) -> None:
        out = tmp_path / "out.mkv"
        with patch("vidswap.faces.detect.create_detector", lambda *a, **k: StubDetector()):
            assert self._run(media, out, "--frames", "4-15").exit_code == 0
            again = self._run(media, out, "--frames", "4-15")
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout.splitlines()[0])["rendered"] == []


class TestDeterminism:
    def test_a_loaded_cpu_renders_the_same_frames(self, media, reference, tmp_path: Path) -> None:
        """A render is deterministic: the same job rendered while other processes load every core
        gives every frame bit for bit."""
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
        try:
            out = tmp_path / "out.mkv"
            run_job(_spec(media, out), tmp_path / "job", segment_frames=SEGMENT, options=_options())
        finally:
            for process in busy:
                process.kill()
                process.wait()
        assert _same_frames(out, reference)


def test_job_progress_counts_frames_and_the_summary_matches_a_streaming_run(media, tmp_path: Path) -> None:
    """Off a terminal (a log) the job's progress is plain lines counting frames with frames/s; the
    summary says frames, faces, frames without a face and frames/s, as a streaming run's does."""
    out = tmp_path / "out.mkv"
    with patch("vidswap.faces.detect.create_detector", lambda *a, **k: StubDetector()):
        result = CliRunner().invoke(main, ["run", str(media["clip"]), "-s", str(media["photo"]), "--model",
                                           str(media["tiny"]), "-o", str(out), "--codec", "ffv1",
                                           "--segment-frames", str(SEGMENT)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"render: {FRAMES}/{FRAMES} frames, ") and "frames/s" in line for line in lines), lines
    done = [line for line in lines if line.startswith("done: job ")]
    assert len(done) == 1 and f"({FRAMES} frames, " in done[0] and "frames without a face" in done[0]
    assert "frames/s)" in done[0]
