"""The ghost AEI-Net converter: key mapping, refusal of misfits, and fidelity to ghost's output."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from vidswap.errors import CheckpointError, InputError
from vidswap.models import AEINet
from vidswap.weights.ghost import convert_ghost_aei, ghost_config, ghost_key
from vidswap.weights.torchfile import load_torch_state_dict

FIXTURE = Path("fixtures") / "ghost_aei_unet_2blocks"


def read_keys(shared: Path) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, dtype) rows of the fixture's keys.tsv, in the checkpoint's order."""
    rows = (shared / FIXTURE / "keys.tsv").read_text().splitlines()[1:]
    out = []
    for row in rows:
        name, shape, dtype = row.split("\t")
        out.append((name, () if shape == "scalar" else tuple(int(s) for s in shape.split("x")), dtype))
    return out


def fixture_weights(rows: list[tuple[str, tuple[int, ...], str]]) -> dict[str, torch.Tensor]:
    """The deterministic weights the fixture's README describes, seeded per row."""
    state = {}
    for i, (name, shape, _) in enumerate(rows):
        g = torch.Generator().manual_seed(i)
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0, dtype=torch.int64)
        elif name.endswith("running_mean"):
            state[name] = 0.1 * torch.randn(shape, generator=g)
        elif name.endswith("running_var"):
            state[name] = 1 + 0.1 * torch.rand(shape, generator=g)
        elif len(shape) == 1 and name.endswith(".weight"):
            state[name] = 1 + 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:
            state[name] = 0.1 * torch.randn(shape, generator=g)
        else:
            state[name] = torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
    return state


class TestGhostKey:
    @pytest.mark.parametrize(("ghost", "ours"), [
        ("encoder.conv1.0.weight", "encoder.down.0.conv.weight"),
        ("encoder.conv7.1.running_var", "encoder.down.6.norm.running_var"),
        ("encoder.deconv6.bn.num_batches_tracked", "encoder.up.5.norm.num_batches_tracked"),
        ("generator.up1.bias", "generator.stem.bias"),
        ("generator.AADBlk1.add_blocks.3.fc1.weight", "generator.blocks.0.units.1.aad.id_gamma.weight"),
        ("generator.AADBlk8.add_blocks.5.weight", "generator.blocks.7.units.1.conv.weight"),
        ("generator.AADBlk4.last_add_block.0.conv_h.bias", "generator.blocks.3.shortcut.aad.mask.bias"),
        ("generator.AADBlk5.last_add_block.2.weight", "generator.blocks.4.shortcut.conv.weight"),
    ])
    def test_known_names(self, ghost: str, ours: str) -> None:
        assert ghost_key(ghost) == ours

    def test_unknown_name(self) -> None:
        with pytest.raises(CheckpointError, match="generator.toRGB.weight"):
            ghost_key("generator.toRGB.weight")

    @pytest.mark.parametrize("name", ["generator.AADBlk1.add_blocks.1.weight",
                                      "generator.AADBlk2.add_blocks.2.fc1.bias"])
    def test_layer_at_the_wrong_index(self, name: str) -> None:
        with pytest.raises(CheckpointError, match="add_blocks"):
            ghost_key(name)


def small_ghost_state() -> dict[str, torch.Tensor]:
    """ghost-named zero tensors of the right shapes for a 1-unit AEI-Net, from our layout."""
    cfg = ghost_config(aad_units=1)
    with torch.device("meta"):
        ours = AEINet(cfg).state_dict()
    inverse = {}
    candidates = [f"encoder.conv{n}.0.weight" for n in range(1, 8)]
    candidates += [f"encoder.conv{n}.1.{p}" for n in range(1, 8)
                   for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
    candidates += [f"encoder.deconv{n}.deconv.weight" for n in range(1, 7)]
    candidates += [f"encoder.deconv{n}.bn.{p}" for n in range(1, 7)
                   for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
    candidates += ["generator.up1.weight", "generator.up1.bias"]
    aad = ("conv1", "conv2", "fc1", "fc2", "conv_h")
    for k in range(1, 9):
        for head in (f"generator.AADBlk{k}.add_blocks.0", f"generator.AADBlk{k}.last_add_block.0"):
            candidates += [f"{head}.{a}.{p}" for a in aad for p in ("weight", "bias")]
        candidates += [f"generator.AADBlk{k}.add_blocks.2.weight",
                       f"generator.AADBlk{k}.last_add_block.2.weight"]
    for name in candidates:
        key = ghost_key(name)
        if key in ours:
            inverse[name] = torch.zeros(ours[key].shape, dtype=ours[key].dtype, device="cpu")
    assert len(inverse) == len(ours)
    return inverse


class TestConvertGhostAei:
    def test_infers_units_and_accepts_fp16(self) -> None:
        state = {k: v.half() if v.is_floating_point() else v for k, v in small_ghost_state().items()}
        cfg, converted = convert_ghost_aei(state)
        assert cfg.aad_units == 1 and cfg.alignment == "insightface-poses" and not cfg.id_normalized
        assert all(v.dtype in (torch.float32, torch.int64) for v in converted.values())
        with torch.device("meta"):
            net = AEINet(cfg)
        net.load_state_dict(converted, strict=True, assign=True)

    def test_shape_mismatch_names_key_and_shapes(self) -> None:
        state = small_ghost_state()
        state["generator.up1.weight"] = torch.zeros(512, 1024, 3, 3)
        shapes = r"generator\.up1\.weight.*\(512, 1024, 3, 3\).*\(512, 1024, 2, 2\)"
        with pytest.raises(CheckpointError, match=shapes):
            convert_ghost_aei(state)

    def test_missing_key(self) -> None:
        state = small_ghost_state()
        del state["encoder.conv3.1.running_mean"]
        with pytest.raises(CheckpointError, match=r"encoder\.down\.2\.norm\.running_mean"):
            convert_ghost_aei(state)

    def test_unexpected_key(self) -> None:
        state = small_ghost_state()
        state["generator.AADBlk1.add_blocks.3.fc1.weight"] = torch.zeros(1024, 512)
        with pytest.raises(CheckpointError, match=r"AADBlk1\.add_blocks\.3\.fc1\.weight"):
            convert_ghost_aei(state, ghost_config(aad_units=1))


class TestLoadTorchStateDict:
    def test_round_trip(self, tmp_path: Path) -> None:
        state = {"a.weight": torch.randn(3, 2), "a.num_batches_tracked": torch.tensor(4)}
        torch.save(state, tmp_path / "w.pth")
        loaded = load_torch_state_dict(tmp_path / "w.pth")
        assert loaded.keys() == state.keys() and torch.equal(loaded["a.weight"], state["a.weight"])

    def test_refuses_code(self, tmp_path: Path) -> None:
        marker = tmp_path / "pwned"

        class Payload:
            def __reduce__(self):
                return os.system, (f"touch {marker}",)

        torch.save({"w": torch.zeros(1), "evil": Payload()}, tmp_path / "evil.pth")
        with pytest.raises(CheckpointError, match="refused"):
            load_torch_state_dict(tmp_path / "evil.pth")
        assert not marker.exists()

    def test_refuses_non_state_dict(self, tmp_path: Path) -> None:
        torch.save({"model": {"w": torch.zeros(1)}}, tmp_path / "nested.pth")
        with pytest.raises(CheckpointError, match="'model'"):
            load_torch_state_dict(tmp_path / "nested.pth")
        (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
        with pytest.raises(CheckpointError, match="junk.pth"):
            load_torch_state_dict(tmp_path / "junk.pth")

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="nope.pth"):
            load_torch_state_dict(tmp_path / "nope.pth")


class TestGhostFidelity:
    @pytest.mark.slow  # builds, saves and converts 184 M parameters: ~10 s on 2 cores
    def test_reproduces_reference_output(self, shared: Path, tmp_path: Path) -> None:
        from safetensors.torch import load_file

        rows = read_keys(shared)
        assert len(rows) == 311
        torch.save(fixture_weights(rows), tmp_path / "G_unet_2blocks.pth")
        cfg, state = convert_ghost_aei(load_torch_state_dict(tmp_path / "G_unet_2blocks.pth"))
        assert cfg.aad_units == 2
        with torch.device("meta"):
            net = AEINet(cfg)  # weights come from the file: skip the random initialisation
        net.load_state_dict(state, strict=True, assign=True)
        ref = load_file(shared / FIXTURE / "reference.safetensors")
        with torch.inference_mode():
            y, z_att = net.eval()(ref["x_t"], ref["z_id"])
        for k, att in enumerate(z_att, start=1):
            torch.testing.assert_close(att.mean(dim=(0, 2, 3)), ref[f"z_att_{k}_mean"], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(y, ref["y"], rtol=0, atol=1e-4)
