"""``vidswap train aei`` / ``train hear`` end to end on a tiny synthetic dataset (CliRunner).

The identity encoder is a random ``iresnet-tiny`` saved as a model file: a test stand-in for
ArcFace weights, which are not available offline.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tests.train.helpers import make_dataset
from vidswap.cli import main
from vidswap.models import FaceShifterConfig, build_bundle, load_checkpoint, save_checkpoint
from vidswap.train.state import latest_checkpoint, load_training_state

TINY = FaceShifterConfig.preset("tiny")
COMMON = ["--preset", "tiny", "--batch-size", "1", "--workers", "0", "--device", "cpu", "--quiet", "--json"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("cli_train")
    torch.manual_seed(3)
    identity = save_checkpoint(root / "identity-test-standin.safetensors", build_bundle(TINY, hear=False))
    return root, make_dataset(root / "data", 3, size=32), identity


def _run(args: list[str]) -> dict:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout)


def test_train_aei_then_resume_then_hear(setup: tuple[Path, Path, Path]) -> None:
    root, data, identity = setup
    run = root / "aei"
    first = _run(["train", "aei", "--data", str(data), "--identity", str(identity), "-o", str(run),
                  "--steps", "1", *COMMON])
    assert first["step"] == 1 and all(math.isfinite(v) for v in first["losses"].values())
    assert set(first["losses"]) == {"total", "adv", "att", "id", "rec", "d"}
    # --resume keeps the saved settings; a larger --steps given here extends the run.
    second = _run(["train", "aei", "--data", str(data), "-o", str(run), "--resume", "--steps", "2", "--quiet",
                   "--json"])
    assert second["step"] == 2
    state = load_training_state(latest_checkpoint(run)[1], kind="aei")
    assert state.step == 2 and json.loads(state.train_config)["batch_size"] == 1

    hear_run = root / "hear"
    hear = _run(["train", "hear", "--data", str(data), "--aei", str(run), "-o", str(hear_run), "--steps", "1",
                 "--batch-size", "2", "--workers", "0", "--device", "cpu", "--sample-every", "1",
                 "--hardest-share", "0.5", "--quiet", "--json"])
    assert hear["step"] == 1 and set(hear["losses"]) == {"total", "id", "chg", "rec"}
    assert all(math.isfinite(v) for v in hear["losses"].values())
    bundle = load_checkpoint(hear["checkpoint"])
    assert bundle.hear is not None and bundle.discriminator is None  # a complete inference model
    aei = load_checkpoint(latest_checkpoint(run)[0]).aei.state_dict()
    assert all(torch.equal(v, aei[k]) for k, v in bundle.aei.state_dict().items())  # AEI-Net stayed frozen
    assert (hear_run / "samples" / "step_000000001.png").is_file()
    assert len(json.loads((hear_run / "hardest_crops.json").read_text())["indices"]) == 2  # round(0.5 * 3)
    resumed = _run(["train", "hear", "--data", str(data), "-o", str(hear_run), "--resume", "--steps", "2",
                    "--quiet", "--json"])
    assert resumed["step"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--identity", "{onnx}"], "not differentiable"),
    ([], "--identity is required"),
])
def test_train_aei_errors(setup: tuple[Path, Path, Path], args: list[str], message: str) -> None:
    root, data, _ = setup
    onnx = root / "w600k_r50.onnx"
    onnx.write_bytes(b"\0")
    args = [a.format(onnx=onnx) for a in args]
    result = CliRunner().invoke(main, ["train", "aei", "--data", str(data), "-o", str(root / "bad"),
                                       "--steps", "1", *COMMON, *args])
    assert result.exit_code != 0 and message in result.output


def test_help_lists_options() -> None:
    result = CliRunner().invoke(main, ["train", "aei", "--help"])
    assert result.exit_code == 0
    for option in ("--identity", "--preset", "--same-share", "--resume", "--precision", "--sample-every"):
        assert option in result.output


@pytest.mark.slow
def test_two_process_ddp_run_with_gloo(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """`torchrun --nproc_per_node 2` on the CPU (gloo): one report, one checkpoint, both ranks in step."""
    import os
    import subprocess
    import sys

    _, data, identity = setup
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--standalone", "-m", "vidswap", "train", "aei", "--data", str(data),
                           "--identity", str(identity), "-o", str(run), "--steps", "2", *COMMON],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1 and reports[0]["step"] == 2
    assert load_training_state(latest_checkpoint(run)[1], kind="aei").step == 2


def test_hardest_crops_takes_the_largest_errors() -> None:
    from vidswap.errors import ConfigError
    from vidswap.train.hear import hardest_crops

    errors = torch.tensor([0.1, 0.5, 0.05, 0.4, 0.2])
    assert hardest_crops(errors, 0.4) == [1, 3]
    assert hardest_crops(errors, 0.01) == [1]
    with pytest.raises(ConfigError):
        hardest_crops(errors, 0.0)
