"""The turnover's settings: the ``turnover`` section (``dir``, ``format``) and ``--turnover``/``--turnover-format``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.io.media import frame_image, make_clip
from tests.pipeline.run_helpers import make_tiny_model, write_photo
from vidswap.cli import main
from vidswap.errors import ConfigError
from vidswap.io.layers import DEFAULT_LAYER_FORMAT, LAYER_FORMAT_CHOICES
from vidswap.pipeline import pipeline_from_options


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("options")
    return {"clip": make_clip(folder / "shot.mp4", frames=4, width=96, height=64),
            "photo": write_photo(folder / "me.png", frame_image(1, 120, 120)),
            "model": make_tiny_model(folder / "tiny.safetensors"), "folder": folder}


def _values(media: dict[str, Path], **more: object) -> dict[str, object]:
    return {"input": str(media["clip"]), "sources.me": [str(media["photo"])],
            "output.path": str(media["folder"] / "out.mp4"), **more}


def test_section_shorthand_and_default_format(media: dict[str, Path]) -> None:
    spec = pipeline_from_options(_values(media, turnover=str(media["folder"] / "t")))
    assert spec.turnover is not None and spec.turnover.dir == media["folder"] / "t"
    assert spec.turnover.format == DEFAULT_LAYER_FORMAT == "exr"
    assert set(LAYER_FORMAT_CHOICES) == {"exr", "exr-float", "tiff", "png"}


def test_a_bad_format_names_the_key(media: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"turnover\.format.*exr"):
        pipeline_from_options(_values(media, **{"turnover.dir": str(media["folder"] / "t"), "turnover.format": "dpx"}))


def test_cli_options_set_the_section(media: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, ["run", str(media["clip"]), "-s", str(media["photo"]), "--model",
                                       str(media["model"]), "--turnover", str(media["folder"] / "t"),
                                       "--turnover-format", "png", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    resolved = json.loads(result.stdout)
    assert resolved["turnover"] == {"dir": str(media["folder"] / "t"), "format": "png"}


def test_cli_refuses_an_unknown_format(media: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, ["run", str(media["clip"]), "-s", str(media["photo"]), "--turnover",
                                       str(media["folder"] / "t"), "--turnover-format", "jpg", "--dry-run"])
    assert result.exit_code == 1 and "--turnover-format" in result.output
    assert not (media["folder"] / "t").exists()


def test_an_existing_turnover_is_replaced_only_with_overwrite(media: dict[str, Path]) -> None:
    folder = media["folder"] / "existing"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    args = ["run", str(media["clip"]), "-s", str(media["photo"]), "--model", str(media["model"]), "--turnover",
            str(folder), "-o", str(media["folder"] / "new.mp4"), "--dry-run"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and "holds a turnover" in refused.output and "--overwrite" in refused.output
    assert CliRunner().invoke(main, [*args, "--overwrite"]).exit_code == 0
    missing = CliRunner().invoke(main, [*args[:7], str(media["folder"] / "no" / "such"), *args[8:]])
    assert missing.exit_code == 1 and "does not exist" in missing.output
