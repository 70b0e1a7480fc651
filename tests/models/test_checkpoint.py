"""Model files: bit-exact round trip, metadata, strict loading, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from vidswap.errors import CheckpointError, InputError, OutputExistsError
from vidswap.models import FaceShifterConfig, build_bundle, load_checkpoint, save_checkpoint
from vidswap.models.checkpoint import read_checkpoint_info, write_checkpoint

TINY = FaceShifterConfig.preset("tiny", alignment="insightface-poses", id_normalized=False)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory):
    torch.manual_seed(0)
    bundle = build_bundle(TINY, discriminator=True, metadata={"source": "test"})
    # Give BatchNorm statistics non-default values, so the round trip covers buffers too.
    bundle.aei.train()(torch.rand(2, 3, 256, 256) * 2 - 1, torch.randn(2, 512))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, bundle, metadata={"licence": "Apache-2.0", "sha256": "ab" * 32})
    return bundle, path


class TestSaveLoad:
    def test_round_trip_is_bit_exact(self, saved) -> None:
        bundle, path = saved
        loaded = load_checkpoint(path)
        assert loaded.config == TINY and set(loaded.parts()) == {"aei", "identity", "hear", "discriminator"}
        for name, module in bundle.parts().items():
            want, got = module.state_dict(), loaded.parts()[name].state_dict()
            assert want.keys() == got.keys()
            for k in want:
                assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), f"{name}.{k}"
        assert not loaded.identity.features.weight.requires_grad
        assert loaded.aei.encoder.down[0].norm.num_batches_tracked.item() == 1

    def test_metadata_and_header(self, saved) -> None:
        _, path = saved
        info = read_checkpoint_info(path)
        assert info.metadata == {"source": "test", "licence": "Apache-2.0", "sha256": "ab" * 32}
        assert info.parts == ("aei", "identity", "hear", "discriminator") and info.config == TINY
        assert load_checkpoint(path).metadata == info.metadata

    def test_loaded_model_runs(self, saved) -> None:
        bundle, path = saved
        loaded = load_checkpoint(path)
        x, z = torch.rand(1, 3, 256, 256) * 2 - 1, torch.randn(1, 512)
        with torch.no_grad():
            assert torch.equal(loaded.aei.eval()(x, z)[0], bundle.aei.eval()(x, z)[0])

    def test_optional_parts(self, tmp_path: Path) -> None:
        bundle = build_bundle(TINY, hear=False)
        save_checkpoint(tmp_path / "aei_only.safetensors", bundle)
        loaded = load_checkpoint(tmp_path / "aei_only.safetensors")
        assert loaded.hear is None and loaded.discriminator is None

    def test_refuses_to_overwrite_and_leaves_no_temp_files(self, saved, tmp_path: Path) -> None:
        bundle, _ = saved
        target = tmp_path / "m.safetensors"
        save_checkpoint(target, bundle)
        with pytest.raises(OutputExistsError, match="m.safetensors"):
            save_checkpoint(target, bundle)
        save_checkpoint(target, bundle, overwrite=True)
        assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
        umask = os.umask(0)
        os.umask(umask)
        assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not private like a mkstemp file


class TestStrictLoading:
    def tamper(self, src: Path, dst: Path, edit) -> Path:
        from safetensors import safe_open

        with safe_open(str(src), framework="pt") as f:
            header = f.metadata()
        tensors = load_file(src)
        edit(tensors)
        save_file(tensors, dst, metadata=header)
        return dst

    def test_missing_key(self, saved, tmp_path: Path) -> None:
        path = self.tamper(saved[1], tmp_path / "m.safetensors", lambda t: t.pop("aei.generator.stem.bias"))
        with pytest.raises(CheckpointError, match=r"missing: aei\.generator\.stem\.bias"):
            load_checkpoint(path)

    def test_unexpected_key(self, saved, tmp_path: Path) -> None:
        path = self.tamper(saved[1], tmp_path / "u.safetensors",
                           lambda t: t.update({"hear.extra.weight": torch.zeros(2)}))
        with pytest.raises(CheckpointError, match=r"unexpected: hear\.extra\.weight"):
            load_checkpoint(path)

    def test_unknown_part_and_missing_part(self, saved, tmp_path: Path) -> None:
        path = self.tamper(saved[1], tmp_path / "p.safetensors",
                           lambda t: t.update({"vae.w": torch.zeros(1)}))
        with pytest.raises(CheckpointError, match="vae"):
            load_checkpoint(path)
        path = self.tamper(saved[1], tmp_path / "q.safetensors",
                           lambda t: [t.pop(k) for k in list(t) if k.startswith("identity.")])
        with pytest.raises(CheckpointError, match="identity"):
            load_checkpoint(path)

    def test_wrong_shape(self, saved, tmp_path: Path) -> None:
        path = self.tamper(saved[1], tmp_path / "s.safetensors",
                           lambda t: t.update({"aei.generator.stem.bias": torch.zeros(7)}))
        with pytest.raises(CheckpointError, match=r"aei\.generator\.stem\.bias has shape \(7,\)"):
            load_checkpoint(path)

    def test_foreign_files(self, tmp_path: Path) -> None:
        save_file({"w": torch.zeros(1)}, tmp_path / "plain.safetensors")
        with pytest.raises(CheckpointError, match="not a vidswap model file"):
            load_checkpoint(tmp_path / "plain.safetensors")
        (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 16)
        with pytest.raises(CheckpointError, match="not a safetensors file"):
            load_checkpoint(tmp_path / "junk.safetensors")
        with pytest.raises(InputError, match="absent"):
            load_checkpoint(tmp_path / "absent.safetensors")

    def test_write_refuses_misfit_state_and_writes_nothing(self, tmp_path: Path) -> None:
        bundle = build_bundle(TINY, hear=False)
        parts = {n: m.state_dict() for n, m in bundle.parts().items()}
        other = FaceShifterConfig.preset("tiny", aad_units=1)
        with pytest.raises(CheckpointError, match="unexpected: aei.generator.blocks.0.units.1"):
            write_checkpoint(tmp_path / "x.safetensors", other, parts)
        with pytest.raises(CheckpointError, match="identity"):
            write_checkpoint(tmp_path / "y.safetensors", TINY, {"aei": parts["aei"]})
        assert list(tmp_path.iterdir()) == []
