"""`vidswap probe`: the table, --json, and one `error:` line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.io.media import make_audio_only
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

    def test_bad_input_is_one_error_line(self, tmp_path: Path) -> None:
        path = make_audio_only(tmp_path / "sound.mp4")
        result = CliRunner().invoke(main, ["probe", str(path)])
        assert result.exit_code == 1
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0]

    def test_bad_rate(self, clips: dict[str, Path]) -> None:
        result = CliRunner().invoke(main, ["probe", str(clips["audio"]), "--rate", "fast"])
        assert result.exit_code == 2 and "--rate" in result.stderr
