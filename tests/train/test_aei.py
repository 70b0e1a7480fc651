"""AEI-Net training on the tiny preset: it learns, losses stay finite, resume is exact.

No pretrained ArcFace is available offline, so the identity encoder here is a randomly
initialised ``iresnet-tiny`` (the tiny preset's) saved as a model file: a test stand-in only.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.train.helpers import make_dataset
from vidswap.errors import CheckpointError, ConfigError, OutputExistsError
from vidswap.models import FaceShifterConfig, build_bundle, load_checkpoint, save_checkpoint
from vidswap.models.identity import build_identity_backbone
from vidswap.train.aei import AEITrainer, train_aei
from vidswap.train.config import TrainConfig
from vidswap.train.data import FaceCrops, IndexEntry, append_index
from vidswap.train.identity import identity_embedding, load_identity_backbone
from vidswap.train.loop import pair_batches
from vidswap.train.losses import reconstruction_loss
from vidswap.train.monitor import LossLog
from vidswap.train.runtime import setup_runtime
from vidswap.train.state import latest_checkpoint, load_training_state

TINY = FaceShifterConfig.preset("tiny")


@pytest.fixture
def identity_file(tmp_path: Path) -> Path:
    """A random tiny identity encoder saved as a vidswap model file (test stand-in for ArcFace)."""
    torch.manual_seed(7)
    return save_checkpoint(tmp_path / "identity-test-standin.safetensors", build_bundle(TINY, hear=False))


def _faces_dataset(shared: Path, folder: Path, count: int) -> Path:
    """The first ``count`` shared source faces (224² aligned crops) as a 256² dataset."""
    folder.mkdir(parents=True)
    entries = []
    for i in range(1, count + 1):
        src = shared / "media" / "faces" / f"source{i}.png"
        if not src.is_file():
            pytest.skip(f"needs {src} (shared test media)")
        with Image.open(src) as image:
            image.convert("RGB").resize((256, 256), Image.Resampling.BICUBIC).save(folder / src.name)
        entries.append(IndexEntry(crop=src.name, source=str(src), frame=0, landmarks=((0.0, 0.0),) * 5))
    append_index(folder, entries)
    return folder


@pytest.mark.slow
def test_tiny_learns_to_reconstruct(shared: Path, tmp_path: Path) -> None:
    """L_rec on a fixed batch of same pairs halves within 40 steps; every loss stays finite."""
    torch.set_num_threads(2)
    data = _faces_dataset(shared, tmp_path / "faces", 4)
    config = TrainConfig(steps=40, batch_size=2, lr=1e-3, same_share=1.0)
    runtime = setup_runtime("cpu", "fp32")
    trainer = AEITrainer.create(TINY, build_identity_backbone("iresnet-tiny"), config, runtime)
    faces = torch.stack([FaceCrops(data)[i] for i in range(4)])

    def eval_rec() -> float:
        with torch.no_grad():
            y, _ = trainer.aei(faces, identity_embedding(trainer.identity, faces, TINY))
            return float(reconstruction_loss(y, faces, torch.ones(len(faces), dtype=torch.bool)))

    start = eval_rec()
    batches = pair_batches(data, config=config, runtime=runtime, image_size=256, start_step=0)
    rec = start
    while trainer.step < config.steps and rec > 0.5 * start:
        losses = trainer.train_step(*next(batches)).losses
        assert all(math.isfinite(v) for v in losses.values()), losses
        if trainer.step % 5 == 0:
            rec = eval_rec()
    assert rec <= 0.5 * start, f"L_rec went from {start:.4f} to {rec:.4f} in {trainer.step} steps"


def _snapshot(trainer: AEITrainer) -> dict[str, torch.Tensor]:
    out = {f"aei.{k}": v.clone() for k, v in trainer.aei.state_dict().items()}
    out |= {f"d.{k}": v.clone() for k, v in trainer.discriminator.state_dict().items()}
    for name, opt in (("g", trainer.opt_g), ("d", trainer.opt_d)):
        for i, state in opt.state_dict()["state"].items():
            out |= {f"{name}.{i}.{k}": torch.as_tensor(v).clone() for k, v in state.items()}
    return out


def test_resume_continues_same_step_and_optimiser_state(tmp_path: Path, identity_file: Path) -> None:
    torch.set_num_threads(1)  # same kernels, same sums: straight and resumed runs match exactly
    data = make_dataset(tmp_path / "data", 4, size=32)
    config = TrainConfig(steps=2, batch_size=1, same_share=0.5, checkpoint_every=1, sample_every=1,
                         log_every=1)
    straight = train_aei(data=data, run=tmp_path / "straight", train_config=config, model_config=TINY,
                         identity=identity_file, progress=False)
    half = train_aei(data=data, run=tmp_path / "resumed", train_config=config.replace(steps=1),
                     model_config=TINY, identity=identity_file, progress=False)
    assert half.step == 1
    state = load_training_state(latest_checkpoint(tmp_path / "resumed")[1], kind="aei")
    assert state.step == 1 and state.optimizers["g"]["state"]  # Adam moments were saved
    resumed = train_aei(data=data, run=tmp_path / "resumed", train_config=config, resume=True, progress=False)
    assert resumed.step == 2 and len(resumed.history) == 1
    assert resumed.history[0] == pytest.approx(straight.history[1], rel=1e-5)

    runtime = setup_runtime("cpu", "fp32")
    a = _snapshot(AEITrainer.resume(tmp_path / "straight", config, runtime))
    b = _snapshot(AEITrainer.resume(tmp_path / "resumed", config, runtime))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    rows = LossLog.read(tmp_path / "resumed" / "losses.csv")
    assert [r["step"] for r in rows] == [1.0, 2.0] and set(rows[0]) >= {"adv", "att", "id", "rec", "d"}
    assert (tmp_path / "resumed" / "samples" / "step_000000002.png").is_file()
    bundle = load_checkpoint(straight.checkpoint)
    assert bundle.discriminator is not None and bundle.config == TINY
    with pytest.raises(OutputExistsError, match="continue it with resume"):
        train_aei(data=data, run=tmp_path / "straight", train_config=config, model_config=TINY,
                  identity=identity_file, progress=False)


class TestIdentityWeights:
    def test_loads_model_file_and_pth(self, tmp_path: Path, identity_file: Path) -> None:
        backbone = load_identity_backbone(identity_file, TINY)
        expected = load_checkpoint(identity_file).identity.state_dict()
        assert all(torch.equal(v, expected[k]) for k, v in backbone.state_dict().items())
        assert not any(p.requires_grad for p in backbone.parameters())
        torch.save(expected, tmp_path / "backbone.pth")
        loaded = load_identity_backbone(tmp_path / "backbone.pth", TINY)
        assert all(torch.equal(v, expected[k]) for k, v in loaded.state_dict().items())

    def test_onnx_is_refused_as_not_differentiable(self, tmp_path: Path) -> None:
        (tmp_path / "glintr100.onnx").write_bytes(b"\0")
        with pytest.raises(ConfigError, match="not differentiable"):
            load_identity_backbone(tmp_path / "glintr100.onnx", TINY)

    def test_wrong_backbone(self, identity_file: Path) -> None:
        with pytest.raises(CheckpointError, match="identity_backbone"):
            load_identity_backbone(identity_file,
                                   FaceShifterConfig.preset("tiny", identity_backbone="iresnet50"))
