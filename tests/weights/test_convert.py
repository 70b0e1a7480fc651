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
from vidswap.models.checkpoint import read_model_header
from vidswap.models.identity import build_identity_backbone
from vidswap.weights.cache import CacheSettings, ResolvedWeights, verify
from vidswap.weights.convert import identity_onnx_path
from vidswap.weights.importer import import_file
from vidswap.weights.manifest import DEFAULT_MANIFEST, load_manifest
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
        for seed, name in enumerate(("g", "b")):
            torch.save({"w": torch.full((2,), float(seed))}, tmp_path / f"{name}.pth")
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
        assert not cache.staging_dir.exists() and not cache.locks_dir.exists()  # no trace after


class TestGhostIdentity:
    """An fp16 backbone is cast on conversion; the backbone's sha256 is recorded and checked."""

    def test_an_fp16_backbone_embeds_from_the_model_file(self, tmp_path: Path) -> None:
        from vidswap.models import FaceShifterConfig, build_bundle, load_swap_model
        from vidswap.models.checkpoint import write_checkpoint
        from vidswap.weights.ghost import load_ghost_identity

        torch.manual_seed(0)
        cfg = FaceShifterConfig.preset("tiny")
        half = {k: v.half() if v.is_floating_point() else v
                for k, v in build_identity_backbone(cfg.identity_backbone).state_dict().items()}
        torch.save(half, tmp_path / "backbone.pth")
        state = load_ghost_identity(tmp_path / "backbone.pth")
        assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float32}
        aei = build_bundle(cfg, hear=False).aei.state_dict()
        model = load_swap_model(write_checkpoint(tmp_path / "m.safetensors", cfg, {"aei": aei, "identity": state}))
        x = torch.rand(2, 3, 256, 256) * 2 - 1
        reference = build_identity_backbone(cfg.identity_backbone)
        reference.load_state_dict({k: v.float() for k, v in half.items()})
        with torch.no_grad():
            z = model.embed(x)
            expected = reference.eval()(torch.nn.functional.interpolate(x, size=(112, 112), mode="bilinear"))
        assert z.dtype == torch.float32
        torch.testing.assert_close(z, expected)

    @staticmethod
    def _tiny_ghost(monkeypatch: pytest.MonkeyPatch) -> None:
        """Stand in a tiny model for ghost's paper-size AEI-Net (the check is all that is tested)."""
        import vidswap.weights.ghost as ghost
        from vidswap.models import FaceShifterConfig, build_bundle

        cfg = FaceShifterConfig.preset("tiny")
        bundle = build_bundle(cfg, hear=False)

        def load(aei: Path, identity: Path):
            return cfg, {"aei": bundle.aei.state_dict(), "identity": ghost.load_ghost_identity(identity)}

        monkeypatch.setattr(ghost, "load_ghost", load)

    def _backbones(self, tmp_path: Path) -> tuple[Path, Path]:
        torch.manual_seed(1)
        paths = []
        for name in ("backbone.pth", "other.pth"):
            torch.save(build_identity_backbone("iresnet-tiny").state_dict(), tmp_path / name)
            paths.append(tmp_path / name)
        return paths[0], paths[1]

    def test_the_cli_warns_when_the_backbone_is_not_ghosts(self, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
        self._tiny_ghost(monkeypatch)
        ghosts, other = self._backbones(tmp_path)
        # The tiny stand-in is not the iresnet100 the real entry claims: a manifest that claims no architecture.
        manifest = tmp_path / "manifest.yaml"
        manifest.write_text(DEFAULT_MANIFEST.read_text().replace("    architecture: arcface-iresnet100\n", ""))
        home = tmp_path / "h"
        torch.save({"w": torch.zeros(1)}, tmp_path / "G.pth")
        refused = weights(home, "import", str(ghosts), "--as", "ghost_arcface_backbone")
        assert refused.exit_code == 1 and "missing tensor" in refused.stderr
        assert weights(home, "--manifest", str(manifest), "import", str(ghosts), "--as",
                       "ghost_arcface_backbone").exit_code == 0

        def convert(identity: str, out: str):
            return weights(home, "--manifest", str(manifest), "convert", "--from", "ghost", str(tmp_path / "G.pth"),
                           "--identity", identity,
                           "-o", str(tmp_path / out), "--offline")

        result = convert(str(other), "other.safetensors")
        assert result.exit_code == 0, result.output
        warning = next(line for line in result.stderr.splitlines() if line.startswith("warning:"))
        assert "is not ghost_arcface_backbone" in warning and sha256(other.read_bytes()) in warning
        assert sha256(ghosts.read_bytes()) in warning and "glintr100" not in result.output
        metadata = read_model_header(tmp_path / "other.safetensors").metadata
        assert metadata["identity_sha256"] == sha256(other.read_bytes())

        for identity in ("ghost_arcface_backbone", str(ghosts)):  # by name, or the same file by path
            same = convert(identity, "ghost.safetensors")
            assert same.exit_code == 0 and "warning" not in same.stderr, same.output
            (tmp_path / "ghost.safetensors").unlink()

    def test_pinned_recorded_or_unknown(self, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
        from vidswap.weights.convert import convert_ghost_file, ghost_identity_problem

        ghosts, other = self._backbones(tmp_path)
        entry = {"name": "ghost_arcface_backbone", "file": "backbone.pth", "url": "https://example.org/b.pth",
                 "licence": "research-only", "role": "identity"}
        pinned = load_manifest(write_manifest(tmp_path / "pinned.yaml", [
            {**entry, "sha256": sha256(ghosts.read_bytes())}]))
        unpinned = load_manifest(write_manifest(tmp_path / "unpinned.yaml", [entry]))

        def ref(path: Path) -> ResolvedWeights:
            return ResolvedWeights(name=path.name, path=path, role="identity", licence="x", source=str(path))

        digest = {p: sha256(p.read_bytes()) for p in (ghosts, other)}
        assert ghost_identity_problem(ref(ghosts), digest[ghosts], manifest=pinned) is None
        assert "is not ghost_arcface_backbone" in (ghost_identity_problem(ref(other), digest[other],
                                                                          manifest=pinned) or "")
        unknown = ghost_identity_problem(ref(ghosts), digest[ghosts], manifest=unpinned,
                                         cache=CacheSettings(home=tmp_path / "empty"))
        assert unknown is not None and "cannot be checked" in unknown and "pins no sha256" in unknown

        self._tiny_ghost(monkeypatch)
        torch.save({"w": torch.zeros(1)}, tmp_path / "G.pth")
        told: list[str] = []
        with caplog.at_level("WARNING", logger="vidswap.weights.convert"):
            convert_ghost_file(ref(tmp_path / "G.pth"), ref(other), tmp_path / "m.safetensors", manifest=pinned,
                               warn=told.append)
        assert len(told) == 1 and told[0] in caplog.text and digest[other] in told[0]
