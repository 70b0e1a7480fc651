"""``vidswap run`` on the command line: options, YAML, dry run, and one error line per bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.io.media import frame_image, make_audio_only, make_clip
from tests.pipeline.run_helpers import make_tiny_model, write_photo
from vidswap.cli import main
from vidswap.cli.run import default_output


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    return {"clip": make_clip(folder / "shot.mp4", frames=8, width=96, height=64),
            "faceless": write_photo(folder / "wall.png", np.full((120, 120, 3), 128, np.uint8)),
            "photo": write_photo(folder / "me.png", frame_image(1, 120, 120)),
            "audio": make_audio_only(folder / "sound.mp4"),
            "model": make_tiny_model(folder / "tiny.safetensors")}


def invoke(*args: str | Path, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["run", *map(str, args)], env=env)


def assert_one_error(result, *words: str, output: Path | None = None) -> str:
    """Exit status 1, exactly one stderr line `error: ...` (the last) containing ``words``, nothing at
    ``output``. Lines before it may log progress (a licence of weights used)."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    lines = errors
    for word in words:
        assert word in lines[0], lines[0]
    if output is not None:
        assert not output.exists()
        assert not output.parent.exists() or not [
            p for p in output.parent.iterdir() if "vidswap-tmp" in p.name or p.name.endswith(".vidswap-job")]
    return lines[0]


def _pipeline(folder: Path, media: dict[str, Path], extra: str = "") -> Path:
    path = folder / "job.yaml"
    path.write_text(f"version: 1\ninput: {media['clip']}\noutput: {folder / 'out.mp4'}\n"
                    f"sources:\n  me: [{media['photo']}]\nmodel:\n  path: {media['model']}\n"
                    f"encode:\n  crf: 16\n{extra}")
    return path


class TestDefaults:
    def test_default_output_is_beside_the_input(self) -> None:
        assert default_output(Path("/a/shot.mov")) == Path("/a/shot.swapped.mov")
        assert default_output(Path("/a/shot.avi")) == Path("/a/shot.swapped.mp4")
        assert default_output(Path("/a/shot.mp4"), "ffv1") == Path("/a/shot.swapped.mkv")
        assert default_output(Path("/a/plates/sh010.%04d.exr")) == Path("/a/plates/sh010.swapped.mp4")
        assert default_output(Path("/a/shot.mp4"), "dnxhd") == Path("/a/shot.swapped.mov")

    def test_profile_option(self, media: dict[str, Path]) -> None:
        """--profile takes the codec's own profiles (the media table's); another codec's is refused by name."""
        base = (media["clip"], "-s", media["photo"], "--model", media["model"], "--codec", "dnxhd", "--dry-run")
        result = invoke(*base, "--profile", "dnxhr_sq", "--json")
        assert result.exit_code == 0, result.output
        spec = json.loads(result.stdout)
        assert (spec["encode"]["profile"], Path(spec["output"]["path"]).suffix) == ("dnxhr_sq", ".mov")
        assert_one_error(invoke(*base, "--profile", "hq"), "--profile", "dnxhd profile: expected one of dnxhr_lb")

    def test_dry_run_prints_the_plan_and_writes_nothing(self, media: dict[str, Path]) -> None:
        result = invoke(media["clip"], "-s", media["photo"], "--model", media["model"], "--dry-run",
                        "--frames", "2-5", "--no-refine")
        assert result.exit_code == 0, result.output
        expected = media["clip"].with_name("shot.swapped.mp4")
        assert f"output:   {expected}" in result.stdout
        assert "frames:   2-5 (4 frames)" in result.stdout and "refine False" in result.stdout
        assert not expected.exists()

    def test_options_override_the_pipeline_file(self, media: dict[str, Path], tmp_path: Path) -> None:
        yaml = _pipeline(tmp_path, media)
        result = invoke(yaml, "--crf", "12", "--set", "mask.blur=0.05", "--device", "cpu", "--batch-size", "2",
                        "--dry-run", "--json")
        assert result.exit_code == 0, result.output
        spec = json.loads(result.stdout)
        assert spec["encode"]["crf"] == 12 and spec["mask"]["blur"] == 0.05
        assert spec["model"]["device"] == "cpu" and spec["model"]["batch_size"] == 2

    def test_help_lists_every_option(self) -> None:
        result = CliRunner().invoke(main, ["run", "--help"])
        for option in ("--source", "--model", "--detector", "--target-ref", "--frames", "--device", "--batch-size",
                       "--no-refine", "--codec", "--crf", "--preset", "--profile", "--overwrite", "--dry-run",
                       "--matte", "--watermark", "--source-face", "--offline", "--set"):
            assert option in result.output


class TestBadInputs:
    def test_missing_source(self, media: dict[str, Path], tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        assert_one_error(invoke(media["clip"], "-s", tmp_path / "nobody.jpg", "--model", media["model"], "-o", out),
                         "--source", "nobody.jpg", output=out)

    def test_faceless_source(self, media: dict[str, Path], tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        assert_one_error(invoke(media["clip"], "-s", media["faceless"], "--model", media["model"], "-o", out),
                         "wall.png", "no face", output=out)

    def test_source_face_past_the_last(self, media: dict[str, Path], tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        assert_one_error(invoke(media["clip"], "-s", media["faceless"], "--source-face", "3", "--model",
                                media["model"], "-o", out), "wall.png", output=out)

    def test_input_without_video(self, media: dict[str, Path], tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        assert_one_error(invoke(media["audio"], "-s", media["photo"], "--model", media["model"], "-o", out),
                         "sound.mp4", output=out)

    def test_missing_output_folder(self, media: dict[str, Path], tmp_path: Path) -> None:
        out = tmp_path / "no" / "out.mp4"
        assert_one_error(invoke(media["clip"], "-s", media["photo"], "--model", media["model"], "-o", out),
                         str(out.parent), output=out)

    def test_unwritable_output_folder(self, media: dict[str, Path], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        if os.access(folder, os.W_OK):  # root ignores the mode: make the folder read-only the way access sees it
            real = os.access
            monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == folder else real(path, mode))
        try:
            assert_one_error(invoke(media["clip"], "-s", media["photo"], "--model", media["model"], "-o",
                                    folder / "out.mp4"), "not writable", output=folder / "out.mp4")
        finally:
            folder.chmod(0o755)

    def test_output_equal_to_input(self, media: dict[str, Path]) -> None:
        before = media["clip"].read_bytes()
        assert_one_error(invoke(media["clip"], "-s", media["photo"], "--model", media["model"], "-o",
                                media["clip"], "--overwrite"), "input")
        assert media["clip"].read_bytes() == before

    def test_existing_output_without_overwrite(self, media: dict[str, Path], tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        out.write_bytes(b"keep")
        assert_one_error(invoke(media["clip"], "-s", media["photo"], "--model", media["model"], "-o", out),
                         "exists", "--overwrite")
        assert out.read_bytes() == b"keep"

    def test_malformed_yaml(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.yaml"
        path.write_text("version: 1\ninput: [unclosed\n")
        assert_one_error(invoke(path), "broken.yaml", output=tmp_path / "out.mp4")

    def test_unknown_key(self, media: dict[str, Path], tmp_path: Path) -> None:
        line = assert_one_error(invoke(_pipeline(tmp_path, media, "colour: red\n")), "job.yaml", "colour",
                                output=tmp_path / "out.mp4")
        assert "unknown key" in line

    @pytest.mark.parametrize(("frames", "words"), [("5-2", ("--frames", "start comes after the end")),
                                                   ("6-40", ("frames:", "8 frames")),
                                                   ("abc", ("--frames",))])
    def test_bad_range(self, media: dict[str, Path], tmp_path: Path, frames: str, words: tuple[str, ...]) -> None:
        out = tmp_path / "out.mp4"
        assert_one_error(invoke(media["clip"], "-s", media["photo"], "--model", media["model"], "-o", out,
                                "--frames", frames), *words, output=out)

    def test_offline_without_weights_stops_before_decoding(self, media: dict[str, Path], tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        text = assert_weights_error(invoke(media["clip"], "-s", media["photo"], "-o", out, "--offline",
                                           env={"VIDSWAP_HOME": str(tmp_path / "cache")}),
                                    "ghost_unet_2blocks", "ghost_arcface_backbone", output=out)
        assert "offline mode forbids downloading" in text.splitlines()[0] and "--model" in text
        assert text.count("vidswap weights import G_unet_2blocks.pth --as ghost_unet_2blocks") == 1, text
        assert "vidswap weights import backbone.pth --as ghost_arcface_backbone" in text
        assert ".part" not in text and "interrupted" not in text
        assert not (tmp_path / "cache").exists() or not [p for p in (tmp_path / "cache").rglob("*")]

    def test_yaml_naming_the_model_reports_the_backbone_too(self, media: dict[str, Path], tmp_path: Path) -> None:
        yaml = _pipeline(tmp_path, media).read_text().replace(f"  path: {media['model']}", "  name: ghost_unet_2blocks")
        (tmp_path / "job.yaml").write_text(yaml)
        assert_weights_error(invoke(tmp_path / "job.yaml", "--offline", env={"VIDSWAP_HOME": str(tmp_path / "c")}),
                             "ghost_unet_2blocks", "ghost_arcface_backbone", output=tmp_path / "out.mp4")

    def test_commercial_only_refuses_research_weights(self, media: dict[str, Path], tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        text = assert_weights_error(invoke(media["clip"], "-s", media["photo"], "-o", out, "--commercial-only",
                                           env={"VIDSWAP_HOME": str(tmp_path / "cache")}),
                                    "--commercial-only", "ghost_arcface_backbone", "non-commercial", output=out)
        assert "ghost_unet_2blocks" not in text  # Apache-2.0: allowed
        assert "downloading" not in text and not (tmp_path / "cache").exists()


def assert_weights_error(result, *words: str, output: Path) -> str:
    """Exit status 1 and the missing/refused-weights error, the one multi-line error: its first
    line ``error: ...`` says what, the lines after it name each file. Returns the error's text."""
    assert result.exit_code == 1, result.output
    stderr = result.stderr
    assert stderr.count("error: ") == 1, stderr
    text = stderr[stderr.index("error: "):]
    for word in words:
        assert word in text, text
    assert not output.exists()
    return text


def test_dry_run_offline_stops_where_the_run_would(media: dict[str, Path], tmp_path: Path) -> None:
    """--dry-run --offline exits 1 naming the missing weights, as the real offline run does."""
    out = tmp_path / "out.mp4"
    result = invoke(media["clip"], "-s", media["photo"], "-o", out, "--offline", "--dry-run",
                    env={"VIDSWAP_HOME": str(tmp_path / "cache")})
    assert_weights_error(result, "ghost_unet_2blocks", "--model", output=out)
    assert invoke(media["clip"], "-s", media["photo"], "--model", media["model"], "-o", out, "--offline",
                  "--dry-run").exit_code == 0


def test_commercial_only_refuses_a_non_commercial_detector(media: dict[str, Path], tmp_path: Path) -> None:
    """insightface's packs are for non-commercial research: a commercial-only run refuses them
    before anything is decoded, naming the backend and its licence."""
    out = tmp_path / "out.mp4"
    result = invoke(media["clip"], "-s", media["photo"], "--model", media["model"], "-o", out, "--detector",
                    "insightface", "--commercial-only")
    assert_one_error(result, "--commercial-only", "detector.backend insightface", "non-commercial", output=out)
