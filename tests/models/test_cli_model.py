"""``vidswap model summary`` and ``vidswap model init`` through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from click.testing import CliRunner

from vidswap.cli import main
from vidswap.models import load_checkpoint
from vidswap.models.checkpoint import read_checkpoint_info


class TestModelSummary:
    def test_paper_json(self) -> None:
        result = CliRunner().invoke(main, ["model", "summary", "--preset", "paper", "--json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        p = doc["parameters"]
        assert doc["preset"] == "paper"
        assert p["aei_net"] == 184_343_381 == p["attribute_encoder"] + p["aad_generator"]
        assert p["hear_net"] == 16_663_043 and p["discriminator"] == 33_463_107
        assert 65e6 < p["identity_encoder"] < 66e6  # iresnet100

    def test_table(self) -> None:
        result = CliRunner().invoke(main, ["model", "summary", "--preset", "tiny"])
        assert result.exit_code == 0 and "aad_generator" in result.stdout

    def test_bad_preset_names_the_option(self) -> None:
        result = CliRunner().invoke(main, ["model", "summary", "--preset", "huge"])
        assert result.exit_code == 1 and "--preset" in result.output

    def test_help_imports_no_torch(self) -> None:
        code = ("import sys; from vidswap.cli import main\n"
                "try:\n    main(['model', 'summary', '--help'])\nexcept SystemExit:\n    pass\n"
                "print('TORCH=' + str('torch' in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip().splitlines()[-1] == "TORCH=False"


class TestModelInit:
    def test_writes_a_complete_tiny_model(self, tmp_path: Path) -> None:
        out = tmp_path / "tiny.safetensors"
        result = CliRunner().invoke(main, ["model", "init", "--preset", "tiny", "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "wrote" in result.stderr and result.stdout == ""
        bundle = load_checkpoint(out)
        assert bundle.hear is not None and bundle.discriminator is None
        assert read_checkpoint_info(out).metadata["source"].startswith("random initialisation")
        with torch.no_grad():
            z_id = bundle.identity_encoder().embed(torch.zeros(1, 3, 112, 112))
            y, _ = bundle.aei.eval()(torch.zeros(1, 3, 256, 256), z_id)
        assert y.shape == (1, 3, 256, 256)

    def test_seed_makes_it_reproducible_and_force_overwrites(self, tmp_path: Path) -> None:
        runner = CliRunner()
        a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
        assert runner.invoke(main, ["model", "init", "-o", str(a), "--seed", "3"]).exit_code == 0
        assert runner.invoke(main, ["model", "init", "-o", str(b), "--seed", "3"]).exit_code == 0
        assert a.read_bytes() == b.read_bytes()
        again = runner.invoke(main, ["model", "init", "-o", str(a)])
        assert again.exit_code == 1 and "error:" in again.stderr and "exists" in again.stderr
        assert runner.invoke(main, ["model", "init", "-o", str(a), "--force", "--seed", "4"]).exit_code == 0
        assert a.read_bytes() != b.read_bytes()
