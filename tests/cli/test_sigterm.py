"""SIGTERM stops a render like Ctrl-C: the temporary output is deleted, nothing is left at the
output path, one ``error:`` line, exit status 130 (a streaming run has no job to resume)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.pipeline.run_helpers import make_tiny_model
from vidswap.io.writer import stale_temporaries


def test_sigterm_leaves_no_temporary(shared: Path, tmp_path: Path) -> None:
    clip, photo = shared / "media" / "videos" / "man_neutral.mp4", shared / "media" / "photos" / "obama.jpg"
    model = make_tiny_model(tmp_path / "tiny.safetensors")
    out = tmp_path / "out.mkv"
    repo = Path(__file__).resolve().parents[2]
    args = ["run", str(clip), "-s", str(photo), "--model", str(model), "-o", str(out), "--codec", "ffv1",
            "--no-job", "--no-progress", "--frames", "0-79"]
    child = subprocess.Popen([sys.executable, "-m", "vidswap", *args], stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": str(repo)})
    deadline = time.monotonic() + 120
    while not stale_temporaries(out) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.poll() is None, child.stderr.read() if child.stderr else ""
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert [line for line in stderr.splitlines() if line.startswith("error: ")] == [
        "error: interrupted (a job resumes when the same command runs again)"]
    assert not out.exists() and stale_temporaries(out) == []
