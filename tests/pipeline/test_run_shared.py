"""vidswap run on the shared clips: the end-to-end check on hamilton_short.mp4 and every example
pipeline in pipelines/, with a tiny random model (skipped when ../shared is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import shared_media
from tests.io.media import stream_packets
from tests.pipeline.run_helpers import decode, make_tiny_model
from vidswap.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "pipelines").glob("*.yaml"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def hamilton(shared: Path) -> Path:
    return shared_media(shared, "videos", "hamilton_short.mp4")


def _times(path: Path) -> list[float]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(float(frame.pts * frame.time_base) for frame in container.decode(stream))


@pytest.fixture(scope="module")
def rendered(hamilton: Path, tiny: Path, shared: Path, tmp_path_factory: pytest.TempPathFactory):
    """The whole clip swapped (tiny random model, YuNet ONNX), lossless, with its matte."""
    folder = tmp_path_factory.mktemp("hamilton")
    out, matte = folder / "out.mkv", folder / "matte.mkv"
    # FFV1 in the source's own pixel format: lossless, every sample outside the faces the input's.
    result = CliRunner().invoke(main, [
        "run", str(hamilton), "-s", str(shared / "media" / "photos" / "obama.jpg"), "--model", str(tiny),
        "-o", str(out), "--codec", "ffv1", "--matte", str(matte),
        "--no-refine", "--batch-size", "8", "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out, matte


@pytest.mark.slow
class TestHamilton:
    def test_frames_timestamps_and_audio(self, rendered, hamilton: Path) -> None:
        summary, out, matte = rendered
        want = _times(hamilton)
        assert summary["frames"] == len(want) and summary["faces_swapped"] > 0
        assert len(_times(out)) == len(_times(matte)) == len(want)
        # Matroska stores milliseconds: every frame within half of one of the input's pts.
        assert np.abs(np.array(_times(out)) - want).max() <= 0.0005
        assert np.abs(np.array(_times(matte)) - want).max() <= 0.0005
        got_audio, want_audio = stream_packets(out, "audio"), stream_packets(hamilton, "audio")
        assert [p for _, p in got_audio] == [p for _, p in want_audio]  # byte-identical packets
        assert max(abs(float(a) - float(b)) for (a, _), (b, _) in zip(got_audio, want_audio, strict=True)) <= 0.0005

    def test_only_faces_change(self, rendered, hamilton: Path) -> None:
        """Judged by Debian's ffmpeg on the clip's own 4:2:0 planes: outside the matte every sample
        is the input's (a chroma sample where the matte is 0 over its 2x2 footprint)."""
        from tests import oracle

        _, out, matte = rendered
        changed = []
        source, result = oracle.planes(hamilton, "yuv420p").frames, oracle.planes(out, "yuv420p").frames
        mattes = [frame[0] for frame in oracle.planes(matte, "gray").frames]
        assert len(source) == len(result) == len(mattes)
        for want, got, alpha in zip(source, result, mattes, strict=True):
            height, width = alpha.shape
            footprint = alpha[:height // 2 * 2, :width // 2 * 2].reshape(height // 2, 2, width // 2, 2).max(axis=(1, 3))
            assert np.array_equal(got[0][alpha == 0], want[0][alpha == 0])
            for plane in (1, 2):
                assert np.array_equal(got[plane][footprint == 0], want[plane][footprint == 0])
            if (alpha == 255).any():
                changed.append(np.abs(got[0].astype(int) - want[0])[alpha == 255].mean())
        assert len(changed) > 200 and np.mean(changed) > 10

    def test_the_report_it_leaves(self, rendered, hamilton: Path) -> None:
        """The job's QC report: every section, the clip's frame count, timecodes from 00:00:00:00,
        and the faces the render swapped."""
        summary, out, _ = rendered
        page = out.with_name(out.name + ".report.html").read_text()
        for section in ("header", "plots", "check", "sheet", "tracks", "settings"):
            assert f'<h2 id="{section}">' in page
        result = CliRunner().invoke(main, ["report", str(out), "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        frames = report["frames"]
        assert len(frames) == summary["frames"] == 275 and not report["missing"].get("render")
        # Frame 274 of a 29.97 fps clip without a timecode track: 9 s and 4 frames at the timecode's 30.
        assert frames[0]["timecode"] == "00:00:00:00" and frames[-1]["timecode"] == "00:00:09:04"
        assert sum(f["swapped"] for f in frames) == summary["faces_swapped"]


def _first_frames(spec, count: int) -> str:
    from vidswap.io.probe import probe

    if spec.frames is None:
        return f"0-{count - 1}"
    info = probe(spec.input.path)
    frames = spec.frames.resolve(frame_count=info.video.frame_count, rate=info.timecode_rate,
                                 start_timecode=info.timecode)
    return f"{frames.start}-{frames.start + count - 1}"


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_pipeline_runs(example: Path, tiny: Path, shared: Path, tmp_path: Path) -> None:
    """Every pipeline in pipelines/ renders (a few frames, outputs moved to a temporary folder)."""
    from vidswap.errors import ConfigError
    from vidswap.pipeline import load_pipeline

    try:
        spec = load_pipeline(example)
    except ConfigError as err:
        pytest.skip(f"{example.name} needs the shared media ({err}); see ../shared/media/MANIFEST.md")
    settings = [f"output.path={tmp_path / ('out' + spec.output.path.suffix)}"]
    if spec.output.sequence is not None:
        (tmp_path / "seq").mkdir()
        settings.append(f"output.sequence={tmp_path / 'seq' / spec.output.sequence.name}")
    if spec.matte is not None:
        settings.append(f"matte={tmp_path / ('matte' + spec.matte.suffix)}")
    args = ["run", str(example), "--model", str(tiny), "--frames", _first_frames(spec, 4), "--no-progress",
            "--json", "--overwrite"]
    for setting in settings:
        args += ["--set", setting]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["frames"] == 4
    assert len(decode(tmp_path / ("out" + spec.output.path.suffix))) == 4
    if spec.output.sequence is not None:
        assert len(list((tmp_path / "seq").iterdir())) == 4
    if spec.matte is not None:
        assert len(decode(tmp_path / ("matte" + spec.matte.suffix))) == 4
