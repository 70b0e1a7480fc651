"""``vidswap validate``: prints the resolved pipeline, or one line per problem and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from vidswap import cli
from vidswap.pipeline import load_pipeline

PIPELINE = """\
version: 1
input: shot.mp4
output: out.mov
sources:
  anna: anna.jpg
"""


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    (tmp_path / "shot.mp4").write_bytes(b"x")
    (tmp_path / "anna.jpg").write_bytes(b"x")
    path = tmp_path / "pipe.yaml"
    path.write_text(PIPELINE)
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(cli.main, ["validate", *args])


class TestValidate:
    def test_prints_resolved_yaml(self, pipeline: Path) -> None:
        result = run(str(pipeline))
        assert result.exit_code == 0, result.stderr
        printed = YAML(typ="safe").load(result.stdout)
        assert printed["input"]["path"] == str(pipeline.parent / "shot.mp4")
        assert printed["encode"]["crf"] == 16 and printed["frames"] is None
        assert "valid (pipeline version 1)" in result.stderr

    def test_json_is_the_spec(self, pipeline: Path) -> None:
        result = run(str(pipeline), "--json")
        assert result.exit_code == 0
        assert json.loads(result.stdout) == json.loads(load_pipeline(pipeline).to_json())

    def test_set_overrides_the_file(self, pipeline: Path) -> None:
        result = run(str(pipeline), "--json", "--set", "encode.crf=12", "--set", "frames=10:",
                     "--set", "model.refine=false", "--set", "mask={blur: 0.1}")
        assert result.exit_code == 0, result.stderr
        printed = json.loads(result.stdout)
        assert (printed["encode"]["crf"], printed["frames"]) == (12, "10:")
        assert printed["model"]["refine"] is False and printed["mask"]["blur"] == 0.1

    def test_problems_one_line_each_and_exit_1(self, pipeline: Path) -> None:
        pipeline.write_text(PIPELINE + "fps: 24\nmask: {blur: -1.0}\n")
        result = run(str(pipeline))
        assert result.exit_code == 1 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert lines == [
            f"error: {pipeline}:6:1: fps: unknown key 'fps' (expected one of: "
            "version, input, output, matte, frames, sources, swaps, model, detector, smoothing, "
            "mask, encode, watermark, overrides)",
            f"error: {pipeline}:7:8: mask.blur: Input should be greater than or equal to 0, "
            "found -1.0",
        ]

    def test_problems_as_json(self, pipeline: Path) -> None:
        result = run(str(pipeline), "--json", "--set", "encode.crf=abc")
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert report["valid"] is False
        assert report["problems"] == [f"{pipeline}: option encode.crf: Input should be a valid "
                                      "integer, found 'abc'"]

    def test_bad_set_syntax_names_the_option(self, pipeline: Path) -> None:
        result = run(str(pipeline), "--set", "crf")
        assert result.exit_code == 1
        assert "--set" in result.stderr and "KEY=VALUE" in result.stderr

    def test_missing_file(self, tmp_path: Path) -> None:
        result = run(str(tmp_path / "none.yaml"))
        assert result.exit_code == 1
        assert result.stderr.strip() == f"error: {tmp_path / 'none.yaml'}: pipeline file not found"
