"""A job on a real clip with the default detector (yunet_onnx): the job's frames equal a
streaming run's, and a range re-render changes only that range. Skipped without ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.run_helpers import decode, make_tiny_model
from vidswap.jobs.job import run_job, with_range_override
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.runner import run_pipeline
from vidswap.pipeline.session import RunOptions


@pytest.mark.slow
def test_real_clip_job_equals_streaming_run(shared: Path, tmp_path: Path) -> None:
    clip, photo = shared / "media/videos/man_neutral.mp4", shared / "media/photos/obama.jpg"
    if not clip.is_file() or not photo.is_file():
        pytest.skip(f"needs {clip.name} and {photo.name} in {shared}/media (see MANIFEST.md)")
    tiny = make_tiny_model(tmp_path / "tiny.safetensors")

    def spec(out: str):
        return pipeline_from_options({"input": str(clip), "sources.me": [str(photo)], "frames": "0-11",
                                      "output.path": str(tmp_path / out), "model.path": str(tiny),
                                      "detector.backend": "yunet_onnx", "encode.codec": "ffv1"})

    options = RunOptions(progress=False)
    run_pipeline(spec("plain.mkv"), options)
    summary = run_job(spec("job.mkv"), tmp_path / "job", segment_frames=4, options=options)
    assert summary.faces_swapped > 0
    plain, job = decode(tmp_path / "plain.mkv"), decode(tmp_path / "job.mkv")
    assert len(job) == 12 and all(np.array_equal(a, b) for a, b in zip(plain, job, strict=True))
    changed = run_job(with_range_override(spec("job.mkv"), "5-6", {"mask.scale": 2.4}), tmp_path / "job",
                      options=options)
    assert changed.rendered == [1] and not changed.analysed
    after = decode(tmp_path / "job.mkv")
    assert [i for i in range(12) if not np.array_equal(after[i], job[i])] in ([5, 6], [5], [6])
