"""``vidswap validate``: prints the resolved pipeline, or one line per problem and exit 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from tests.io.media import make_clip
from vidswap import cli
from vidswap.pipeline import load_pipeline

PIPELINE = """\
version: 1
input: shot.mp4
output: out.mov
sources:
  anna: anna.jpg
"""


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "shot.mp4", frames=24)


@pytest.fixture
def pipeline(tmp_path: Path, clip: Path) -> Path:
    shutil.copy(clip, tmp_path / "shot.mp4")
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
            "version, input, output, matte, turnover, frames, sources, swaps, model, detector, smoothing, "
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


class TestWhatTheRunWouldRefuse:
    """validate checks what the run checks before it loads anything."""

    def test_a_range_outside_the_input(self, pipeline: Path) -> None:
        result = run(str(pipeline), "--set", "frames=5-40")
        assert result.exit_code == 1
        assert "frames" in result.stderr and "24 frames" in result.stderr

    def test_a_missing_output_folder(self, pipeline: Path) -> None:
        result = run(str(pipeline), "--set", f"output.path={pipeline.parent / 'renders' / 'out.mov'}")
        assert result.exit_code == 1 and "output folder" in result.stderr and "does not exist" in result.stderr

    def test_an_existing_output(self, pipeline: Path) -> None:
        (pipeline.parent / "out.mov").write_bytes(b"someone's")
        result = run(str(pipeline), "--json")
        assert result.exit_code == 1
        assert json.loads(result.stdout)["problems"] == [
            f"{pipeline.parent / 'out.mov'}: exists; with output.overwrite it is replaced"]


@pytest.mark.parametrize("example", sorted((Path(__file__).resolve().parents[2] / "pipelines").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_the_example_pipelines_validate_from_a_checkout(example: Path, shared: Path) -> None:
    """Each example in pipelines/ passes validate as a fresh clone has it: its media in ../shared,
    its output folders (renders/) in the checkout."""
    outputs = [p for p in (example.parents[1] / "renders").rglob("*") if p.is_file() and p.name != ".gitkeep"]
    if outputs:
        pytest.skip(f"renders/ holds earlier outputs ({outputs[0].name}); validate rightly refuses to replace them")
    result = run(str(example))
    assert result.exit_code == 0, result.stderr
