"""The swap-model seam: the family registry, the header's family field, and a toy family that
renders through the normal load path with nothing but its class and one registry entry."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vidswap.errors import CheckpointError
from vidswap.models import FaceShifterConfig, ModelBundle, build_bundle, load_swap_model, save_checkpoint
from vidswap.models.checkpoint import ModelHeader, read_model_header, read_model_tensors, write_model_file
from vidswap.models.family import FAMILIES, Swap, SwapModel


@dataclass(frozen=True)
class ToyConfig:
    alignment: str = "arcface"
    image_size: int = 256
    c_id: int = 4
    id_normalized: bool = True


class ToyModel:
    """A family in a few lines: every face becomes flat grey at its one stored tensor's level."""

    family: ClassVar[str] = "toy"
    swaps: ClassVar[int] = 0

    def __init__(self, config: ToyConfig, level: torch.Tensor) -> None:
        self.config, self.level = config, level

    crop_size = property(lambda self: self.config.image_size)
    alignment = property(lambda self: self.config.alignment)
    can_refine = property(lambda self: False)

    def identity_crop(self, crops: torch.Tensor) -> torch.Tensor:
        return F.interpolate(crops, size=(2, 2), mode="area")

    def embed(self, crops: torch.Tensor) -> torch.Tensor:
        return self.identity_crop(crops).flatten(1)[:, :self.config.c_id].float()

    def swap(self, x_t: torch.Tensor, z_id: torch.Tensor, *, refine: bool) -> Swap:
        ToyModel.swaps += len(x_t)
        return Swap(self.level.expand_as(x_t).to(x_t.dtype))

    def to(self, device: torch.device) -> ToyModel:
        self.level = self.level.to(device)
        return self

    @classmethod
    def load(cls, path: Path, header: ModelHeader, *, device: torch.device) -> ToyModel:
        return cls(ToyConfig(**header.config), read_model_tensors(path, device=device)["toy"]["level"])


@pytest.fixture
def toy_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FAMILIES, "toy", f"{__name__}:ToyModel")


def _toy_file(path: Path, level: float = -0.5) -> Path:
    return write_model_file(path, family="toy", config=asdict(ToyConfig()),
                            parts={"toy": {"level": torch.full((1, 3, 1, 1), level)}},
                            metadata={"source": "test"})


class TestRegistry:
    def test_the_toy_family_loads_through_the_registry(self, toy_family: None, tmp_path: Path) -> None:
        model = load_swap_model(_toy_file(tmp_path / "toy.safetensors"))
        assert isinstance(model, ToyModel) and model.config == ToyConfig()
        checked: SwapModel = model
        swapped = checked.swap(torch.zeros(2, 3, 256, 256), torch.zeros(2, 4), refine=True)
        assert swapped.images.unique().tolist() == [-0.5] and swapped.occlusion is None
        assert read_model_header(tmp_path / "toy.safetensors").family == "toy"

    def test_unknown_family(self, tmp_path: Path) -> None:
        with pytest.raises(CheckpointError, match="unknown swap-model family 'toy'"):
            load_swap_model(_toy_file(tmp_path / "toy.safetensors"))

    def test_faceshifter_files_name_their_family(self, tmp_path: Path) -> None:
        path = save_checkpoint(tmp_path / "fs.safetensors", build_bundle(FaceShifterConfig.preset("tiny")))
        assert read_model_header(path).family == "faceshifter"
        assert isinstance(load_swap_model(path), ModelBundle)

    def test_a_file_without_the_field_is_faceshifter(self, tmp_path: Path) -> None:
        torch.manual_seed(0)
        path = save_checkpoint(tmp_path / "fs.safetensors",
                               build_bundle(FaceShifterConfig.preset("tiny"), hear=False))
        with safe_open(str(path), framework="pt") as f:
            header = json.loads(f.metadata()["vidswap"])
        del header["family"]
        old = tmp_path / "old.safetensors"
        save_file(load_file(path), old, metadata={"vidswap": json.dumps(header)})
        model = load_swap_model(old)
        assert isinstance(model, ModelBundle) and model.hear is None
        x = torch.rand(1, 3, 256, 256) * 2 - 1
        assert torch.equal(model.embed(x), load_swap_model(path).embed(x))


class TestToyRender:
    def test_renders_through_the_normal_load_path(self, toy_family: None, tmp_path: Path) -> None:
        from tests.io.media import frame_image, make_clip
        from tests.pipeline.run_helpers import StubDetector, decode, write_photo
        from vidswap.pipeline import pipeline_from_options
        from vidswap.pipeline.runner import RunOptions, run_pipeline

        clip = make_clip(tmp_path / "shot.mp4", frames=4, width=128, height=96)
        photo = write_photo(tmp_path / "me.png", frame_image(3, 128, 128))
        out, matte = tmp_path / "out.mp4", tmp_path / "matte.mkv"
        spec = pipeline_from_options({
            "input": str(clip), "sources.me": [str(photo)], "output.path": str(out), "matte": str(matte),
            "model.path": str(_toy_file(tmp_path / "toy.safetensors")), "encode.codec": "libx264",
            "encode.crf": 0, "encode.preset": "ultrafast", "encode.pix_fmt": "yuv444p"})
        before = ToyModel.swaps
        summary = run_pipeline(spec, RunOptions(progress=False, detector=StubDetector()))
        assert summary.faces_swapped == 4 and ToyModel.swaps - before == 4
        for got, want, alpha in zip(decode(out), decode(clip), decode(matte), strict=True):
            assert np.abs(got.astype(int) - want)[alpha == 255].mean() > 5
