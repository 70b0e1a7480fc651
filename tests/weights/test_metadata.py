"""Provenance in safetensors metadata: written, read without torch, tensors untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from vidswap.errors import CheckpointError
from vidswap.weights.metadata import (
    HEADER_KEY,
    Provenance,
    add_provenance,
    read_metadata,
    read_provenance,
    save_tensors,
)

PROVENANCE = Provenance(source="/data/x.pth", licence="Apache-2.0", original_sha256="ab" * 32,
                        original_name="x.pth", converted_from="pth", created="2026-01-01T00:00:00+00:00")


class TestAddProvenance:
    @pytest.mark.parametrize("names", [["a"], ["a", "bb", "ccc"]])
    def test_tensors_unchanged_and_metadata_merged(self, tmp_path: Path, names: list[str]) -> None:
        tensors = {name: torch.randn(2, i + 1, 3) for i, name in enumerate(names)}
        src = tmp_path / "src.safetensors"
        document = json.dumps({"config": "{}", "metadata": {"k": "v"}})
        save_file(tensors, str(src), metadata={"format": "pt", "author": "x", HEADER_KEY: document})
        dest = tmp_path / "dest.safetensors"
        add_provenance(src, dest, PROVENANCE)
        loaded = load_file(str(dest))
        assert loaded.keys() == tensors.keys()
        for name in names:
            torch.testing.assert_close(loaded[name], tensors[name], rtol=0, atol=0)
        metadata = read_metadata(dest)
        assert metadata["author"] == "x"
        document = json.loads(metadata[HEADER_KEY])
        assert document["config"] == "{}" and document["metadata"]["k"] == "v"  # kept
        assert read_provenance(dest) == PROVENANCE
        assert (8 + int.from_bytes(dest.read_bytes()[:8], "little")) % 8 == 0

    def test_not_safetensors(self, tmp_path: Path) -> None:
        path = tmp_path / "x.safetensors"
        path.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00nope!")
        with pytest.raises(CheckpointError, match="not a safetensors file"):
            read_metadata(path)
        path.write_bytes(b"abc")
        with pytest.raises(CheckpointError, match="not a safetensors file"):
            add_provenance(path, tmp_path / "y.safetensors", PROVENANCE)


class TestSaveTensors:
    def test_shared_and_strided_tensors(self, tmp_path: Path) -> None:
        base = torch.randn(4, 6)
        tensors = {"w": base, "tied": base, "t": base.t(), "view": base[1:3]}
        dest = tmp_path / "out.safetensors"
        save_tensors(tensors, dest, provenance=PROVENANCE)
        loaded = load_file(str(dest))
        for name, tensor in tensors.items():
            torch.testing.assert_close(loaded[name], tensor, rtol=0, atol=0)
        assert read_provenance(dest) == PROVENANCE
        assert not (tmp_path / "out.safetensors.tmp").exists()

    def test_model_file_provenance(self, tmp_path: Path) -> None:
        from vidswap.models.checkpoint import build_bundle, save_checkpoint
        from vidswap.models.config import FaceShifterConfig

        path = tmp_path / "model.safetensors"
        save_checkpoint(path, build_bundle(FaceShifterConfig.preset("tiny"), hear=False),
                        metadata=PROVENANCE.to_metadata())
        assert read_provenance(path) == PROVENANCE

    def test_provenance_absent(self, tmp_path: Path) -> None:
        path = tmp_path / "plain.safetensors"
        save_file({"a": torch.zeros(1)}, str(path))
        assert read_provenance(path) is None
