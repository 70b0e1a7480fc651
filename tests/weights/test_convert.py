"""Converters through the command line: ghost AEI-Net → model file, ArcFace ONNX → IResNet."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from tests.weights.helpers import sha256, write_manifest
from tests.weights.test_arcface_onnx import crops, export, random_backbone
from vidswap import cli
from vidswap.errors import WeightsError
from vidswap.models.identity import build_identity_backbone
from vidswap.weights.cache import CacheSettings, ResolvedWeights, verify
from vidswap.weights.convert import identity_onnx_path
from vidswap.weights.importer import import_file
from vidswap.weights.manifest import load_manifest
from vidswap.weights.metadata import read_provenance


def weights(home: Path, *args: str):
    return CliRunner().invoke(cli.main, ["weights", "--home", str(home), *args])


class TestConvertArcface:
    def test_onnx_to_safetensors_with_provenance(self, tmp_path: Path) -> None:
        original = random_backbone(seed=6)
        onnx_path = export(original, tmp_path / "w600k_tiny.onnx", dynamo=False)
        out = tmp_path / "id.safetensors"
        result = weights(tmp_path / "h", "convert", "--from", "arcface-onnx", str(onnx_path), "-o", str(out))
        assert result.exit_code == 0, result.output
        assert "iresnet-tiny" in result.stderr and Path(result.stdout.strip()) == out
        model = build_identity_backbone("iresnet-tiny")
        model.load_state_dict(load_file(str(out)), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(model.eval()(crops()), original(crops()), rtol=1e-4, atol=1e-4)
        provenance = read_provenance(out)
        assert provenance.original_sha256 == sha256(onnx_path.read_bytes())
        assert provenance.converted_from == "arcface-onnx (iresnet-tiny)"

        again = weights(tmp_path / "h", "convert", "--from", "arcface-onnx", str(onnx_path), "-o", str(out))
        assert again.exit_code == 1 and "--force" in again.stderr

    def test_pack_gives_its_identity_file(self, tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "p", "file": "p.zip", "url": None, "format": "zip", "role": "detector",
             "files": [{"name": "det.onnx", "role": "detector"}, {"name": "rec.onnx", "role": "identity"}]},
            {"name": "q", "file": "q.zip", "url": None, "format": "zip", "role": "detector",
             "files": [{"name": "det.onnx", "role": "detector"}]}]))
        pack = ResolvedWeights(name="p", path=tmp_path, role="detector", licence="x", source="y",
                               entry=manifest.get("p"))
        assert identity_onnx_path(pack) == tmp_path / "rec.onnx"
        with pytest.raises(WeightsError, match="no recognition model"):
            identity_onnx_path(ResolvedWeights(name="q", path=tmp_path, role="detector", licence="x",
                                               source="y", entry=manifest.get("q")))


class TestConvertGhost:
    def test_unknown_key_is_refused_by_name(self, tmp_path: Path) -> None:
        torch.save({"generator.toRGB.weight": torch.zeros(1), "generator.AADBlk1.add_blocks.0.fc1.weight":
                    torch.zeros(1)}, tmp_path / "G.pth")
        torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "backbone.pth")
        result = weights(tmp_path / "h", "convert", "--from", "ghost", str(tmp_path / "G.pth"),
                         "--identity", str(tmp_path / "backbone.pth"),
                         "-o", str(tmp_path / "out.safetensors"))
        assert result.exit_code == 1
        assert "generator.toRGB.weight" in result.stderr
        assert not (tmp_path / "out.safetensors").exists()

    def test_offline_without_weights_says_how_to_get_them(self, tmp_path: Path, no_network: None) -> None:
        result = weights(tmp_path / "h", "convert", "--from", "ghost", "ghost_unet_2blocks", "--offline",
                         "-o", str(tmp_path / "out.safetensors"))
        assert result.exit_code == 1 and "vidswap weights import G_unet_2blocks.pth" in result.stderr

    @pytest.mark.slow
    def test_ghost_checkpoint_reproduces_reference(self, shared: Path, tmp_path: Path,
                                                   no_network: None) -> None:
        """A ghost G_unet_2blocks.pth made as the shared fixture describes, saved as ghost saves it
        (a plain state dict), imported under its manifest name and converted offline, gives the
        stored output to 1e-4."""
        from tests.weights.test_ghost import FIXTURE, fixture_weights, read_keys
        from vidswap.models.checkpoint import load_checkpoint

        home = tmp_path / "h"
        torch.save(fixture_weights(read_keys(shared)), tmp_path / "G_unet_2blocks.pth")
        with torch.device("meta"):
            expected = build_identity_backbone("iresnet100").state_dict()
        torch.save({k: torch.zeros(v.shape, dtype=v.dtype) for k, v in expected.items()},
                   tmp_path / "backbone.pth")
        for file, name in (("G_unet_2blocks.pth", "ghost_unet_2blocks"),
                           ("backbone.pth", "ghost_arcface_backbone")):
            assert weights(home, "import", str(tmp_path / file), "--as", name).exit_code == 0

        out = tmp_path / "ghost.safetensors"
        result = weights(home, "convert", "--from", "ghost", "ghost_unet_2blocks", "--offline",
                         "-o", str(out))
        assert result.exit_code == 0, result.output
        bundle = load_checkpoint(out)
        assert bundle.config.aad_units == 2 and not bundle.config.id_normalized
        ref = load_file(shared / FIXTURE / "reference.safetensors")
        with torch.inference_mode():
            y, _ = bundle.aei.eval()(ref["x_t"], ref["z_id"])
        torch.testing.assert_close(y, ref["y"], rtol=0, atol=1e-4)
        provenance = read_provenance(out)
        assert provenance.original_sha256 == sha256((tmp_path / "G_unet_2blocks.pth").read_bytes())
        assert provenance.licence.startswith("Apache-2.0; identity encoder: research-only")

        # A run that loads the two .pth files converts them the same way: the same networks.
        from vidswap.pipeline.model import ModelFiles, load_model

        def pth(file: str, role: str) -> ResolvedWeights:
            return ResolvedWeights(name=file, path=tmp_path / file, role=role, licence="x", source="y")

        from vidswap.models import ModelBundle

        run = load_model(ModelFiles(aei=pth("G_unet_2blocks.pth", "aei"),
                                    identity=pth("backbone.pth", "identity")))
        assert isinstance(run, ModelBundle) and run.config == bundle.config
        for part, module in bundle.parts().items():
            other = run.parts()[part].state_dict()
            assert all(torch.equal(v, other[k]) for k, v in module.state_dict().items())


class TestEnsureGhostModel:
    def test_converts_once_into_the_cache(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from safetensors.torch import save_file

        import vidswap.weights.convert as convert

        calls = []

        def fake_convert(aei: ResolvedWeights, identity: ResolvedWeights, output: Path, **_: object) -> Path:
            calls.append((aei.name, identity.name))
            save_file({"w": torch.ones(1)}, str(output))
            return output

        monkeypatch.setattr(convert, "convert_ghost_file", fake_convert)
        cache = CacheSettings(home=tmp_path / "h")
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml", [
            {"name": "g", "file": "g.pth", "url": "https://example.org/g.pth", "licence": "Apache-2.0"},
            {"name": "b", "file": "b.pth", "url": "https://example.org/b.pth", "licence": "research-only",
             "role": "identity"}]))
        for name in ("g", "b"):
            (tmp_path / f"{name}.pth").write_bytes(name.encode())
            import_file(tmp_path / f"{name}.pth", name=name, cache=cache, manifest=manifest)
        model = convert.ensure_ghost_model(aei="g", identity="b", cache=cache, manifest=manifest,
                                           offline=True)
        assert model.name == "g+b" and model.path.is_file()
        assert model.licence == "Apache-2.0; identity encoder: research-only"
        assert model.record is not None and model.record.origin == "convert"
        again = convert.ensure_ghost_model(aei="g", identity="b", cache=cache, manifest=manifest,
                                           offline=True)
        assert again.path == model.path and calls == [("g", "b")]
        assert verify("g+b", cache=cache, manifest=manifest).status == "ok"
        assert list(cache.staging_dir.iterdir()) == []
