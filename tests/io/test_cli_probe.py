"""`vidswap probe`: the table, --json, and one `error:` line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.io.test_probe import BAD_INPUTS
from vidswap.cli import main


class TestProbeCommand:
    def test_table(self, clips: dict[str, Path]) -> None:
        result = CliRunner().invoke(main, ["probe", str(clips["rotated_tc"])])
        assert result.exit_code == 0, result.output
        assert "64x48" in result.stdout and "rotation   90" in result.stdout
        assert "timecode   01:00:00:00" in result.stdout and "aac" in result.stdout

    def test_json(self, clips: dict[str, Path]) -> None:
        result = CliRunner().invoke(main, ["probe", str(clips["vfr"]), "--json"])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert document["video"]["vfr"] is True and document["video"]["frame_count"] == 30
        assert document["audio"][0]["codec"] == "aac"

    @pytest.mark.parametrize("kind", BAD_INPUTS)
    def test_bad_input_is_one_error_line(self, tmp_path: Path, kind: str) -> None:
        path = BAD_INPUTS[kind][0](tmp_path)
        result = CliRunner().invoke(main, ["probe", str(path), "--json"])
        assert result.exit_code == 1
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0]

    def test_bad_rate(self, clips: dict[str, Path]) -> None:
        result = CliRunner().invoke(main, ["probe", str(clips["audio"]), "--rate", "fast"])
        assert result.exit_code == 1 and "--rate" in result.stderr
