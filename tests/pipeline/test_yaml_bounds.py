"""Pipeline files are bounded: alias bombs, huge files and deep nesting are refused at once, with
one clear error naming the file (issue: a 353-byte "billion laughs" took 252 s and 1.7 GB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vidswap.cli import main
from vidswap.errors import ConfigError
from vidswap.pipeline.yamlload import MAX_BYTES, MAX_DEPTH, read_yaml


def _laughs(levels: int) -> str:
    """The classic alias bomb: each level is a list of ten aliases of the level below."""
    lines = ['version: 1', 'a0: &a0 "lol"']
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [7, 9])
def test_alias_bomb_is_refused(tmp_path: Path, levels: int) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_laughs(levels))
    assert path.stat().st_size < 600
    with pytest.raises(ConfigError, match=r"bomb.yaml: holds more than \d+ values once its aliases are expanded"):
        read_yaml(path)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line] == [
        line for line in result.stderr.splitlines() if line.startswith("error: ")]


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(_laughs(3))  # 1,000 values
    assert len(read_yaml(path).data["a3"]) == 10


def test_large_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("version: 1\ncomment: " + "x" * MAX_BYTES + "\n")
    with pytest.raises(ConfigError, match="big.yaml: a pipeline file is at most 1024 KiB"):
        read_yaml(path)


@pytest.mark.parametrize("text", ["version: 1\nx: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
                                  "version: 1\nx: " + "[" * 5000 + "]" * 5000 + "\n"])
def test_deep_nesting_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="deep.yaml: .*(nested deeper|values once)"):
        read_yaml(path)
