"""Which weight files a model reference needs (``vidswap.pipeline.model.resolve_model``): training
run folders, every missing file named at once, licences before downloads, commercial-only runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.run_helpers import make_tiny_model
from tests.weights.helpers import LocalServer, torch_bytes, write_manifest
from vidswap.errors import WeightsError
from vidswap.pipeline.model import resolve_model
from vidswap.weights.cache import CacheSettings
from vidswap.weights.ghost import GHOST_IDENTITY
from vidswap.weights.manifest import Manifest, load_manifest


@pytest.fixture
def cache(tmp_path: Path) -> CacheSettings:
    return CacheSettings(home=tmp_path / "home")


def _manifest(tmp_path: Path, aei_url: str | None = "https://example.org/g.pth",
              identity_url: str | None = "https://example.org/b.pth") -> Manifest:
    return load_manifest(write_manifest(tmp_path / "m.yaml", [
        {"name": "g", "file": "g.pth", "url": aei_url, "commercial": True},
        {"name": GHOST_IDENTITY, "file": "b.pth", "url": identity_url, "role": "identity",
         "licence": "research-only, non-commercial"}], defaults=["g", GHOST_IDENTITY]))


class TestRunFolder:
    def test_a_training_run_resolves_to_its_latest_checkpoint(self, tmp_path: Path, cache: CacheSettings,
                                                              no_network: None) -> None:
        checkpoints = tmp_path / "run" / "checkpoints"
        checkpoints.mkdir(parents=True)
        for step in (100, 200):
            make_tiny_model(checkpoints / f"step_{step:09d}.safetensors")
            (checkpoints / f"step_{step:09d}.state.pt").write_bytes(b"state")
        files = resolve_model(tmp_path / "run", cache=cache, manifest=_manifest(tmp_path), progress=False)
        assert files.aei.path == checkpoints / "step_000000200.safetensors" and files.identity is None

    def test_a_folder_without_checkpoints_is_named(self, tmp_path: Path, cache: CacheSettings,
                                                   no_network: None) -> None:
        (tmp_path / "empty").mkdir()
        with pytest.raises(WeightsError) as caught:
            resolve_model(tmp_path / "empty", cache=cache, manifest=_manifest(tmp_path), progress=False)
        assert str(tmp_path / "empty") in str(caught.value) and "checkpoint" in str(caught.value)
        assert GHOST_IDENTITY not in str(caught.value) and caught.value.setting == "model.path"


class TestPlannedTogether:
    def test_a_named_aei_net_and_its_backbone_are_missing_together(self, tmp_path: Path, cache: CacheSettings,
                                                                   no_network: None) -> None:
        with pytest.raises(WeightsError) as caught:
            resolve_model("g", cache=cache, manifest=_manifest(tmp_path), offline=True, progress=False)
        lines = str(caught.value).splitlines()
        assert "2 file(s)" in lines[0] and "offline mode forbids downloading" in lines[0]
        assert any(line.startswith("  g (aei): g.pth, licence Test-1.0") for line in lines)
        assert any(line.startswith(f"  {GHOST_IDENTITY} (identity): b.pth") for line in lines)
        assert sum("vidswap weights import" in line for line in lines) == 2
        assert lines[-1].startswith("Or use a model of your own: model.path")

    def test_licences_are_told_before_any_download(self, http_server: LocalServer, tmp_path: Path,
                                                   cache: CacheSettings) -> None:
        manifest = _manifest(tmp_path, http_server.serve("/g.pth", torch_bytes(1)),
                             http_server.serve("/b.pth", torch_bytes(2)))
        told: list[tuple[str, int]] = []
        resolve_model(None, cache=cache, manifest=manifest, progress=False,
                      before_download=lambda entry: told.append((entry.name, len(http_server.requests))))
        assert told == [("g", 0), (GHOST_IDENTITY, 0)]  # both named before the first request

    def test_commercial_only_refuses_before_downloading(self, http_server: LocalServer, tmp_path: Path,
                                                        cache: CacheSettings) -> None:
        manifest = _manifest(tmp_path, http_server.serve("/g.pth", torch_bytes(1)),
                             http_server.serve("/b.pth", torch_bytes(2)))
        with pytest.raises(WeightsError) as caught:
            resolve_model("g", cache=cache, manifest=manifest, progress=False, commercial_only=True)
        assert GHOST_IDENTITY in str(caught.value) and "licence research-only" in str(caught.value)
        assert http_server.requests == [] and not cache.home.exists()
