"""The command-line group: help, version, lazy imports and error reporting."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from vidswap import __version__, cli
from vidswap.errors import ConfigError


class TestMain:
    def test_help_lists_commands(self) -> None:
        result = CliRunner().invoke(cli.main, ["--help"])
        assert result.exit_code == 0
        for name, (_, short_help) in cli.COMMANDS.items():
            assert name in result.output
            assert short_help.split()[0] in result.output

    def test_version(self) -> None:
        result = CliRunner().invoke(cli.main, ["--version"])
        assert result.exit_code == 0
        assert __version__ in result.output

    def test_help_imports_no_heavy_module(self) -> None:
        code = (
            "import sys; from vidswap.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'av', 'onnxruntime', 'kornia') if m in sys.modules]\n"
            "print('HEAVY=' + ','.join(heavy))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip().splitlines()[-1] == "HEAVY="

    def test_library_error_becomes_one_line_and_exit_1(self, monkeypatch) -> None:
        @click.command()
        def broken() -> None:
            raise ConfigError("pipelines/x.yaml:3:5: unknown key 'fps'")

        monkeypatch.setattr(cli, "COMMANDS", {})
        cli.main.add_command(broken, "broken")
        try:
            result = CliRunner().invoke(cli.main, ["broken"])
        finally:
            cli.main.commands.pop("broken")
        assert result.exit_code == 1
        assert result.output.strip() == "error: pipelines/x.yaml:3:5: unknown key 'fps'"


class TestUsageErrors:
    """click's own errors (bad option values, missing arguments) are one ``error:`` line, exit 1."""

    @pytest.mark.parametrize("args", [
        ["run", "{clip}", "--crf", "99"], ["run", "{clip}", "--batch-size", "-1"],
        ["run", "{clip}", "--segment-frames", "0"], ["run", "{clip}", "-o", "{dir}"],
        ["run", "{clip}", "--source", "{dir}"], ["run", "{clip}", "--job", "{file}"],
        ["model", "summary", "--preset", "x"], ["train", "aei"], ["nosuch"], ["--bogus"],
    ])
    def test_one_error_line_exit_1(self, args: list[str], tmp_path) -> None:
        (tmp_path / "clip.mp4").write_bytes(b"")
        (tmp_path / "file").write_bytes(b"")
        values = {"clip": str(tmp_path / "clip.mp4"), "dir": str(tmp_path), "file": str(tmp_path / "file")}
        result = CliRunner().invoke(cli.main, [a.format(**values) for a in args])
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 1, result.output
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
