"""Dataset index, crops and pair sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.train.helpers import make_dataset
from vidswap.errors import ConfigError, InputError
from vidswap.train.data import (
    INDEX_NAME,
    FaceCrops,
    IndexEntry,
    PairDataset,
    PairSampler,
    append_index,
    image_to_tensor,
    read_index,
    tensor_to_image,
)


class TestIndex:
    def test_round_trip_and_append(self, tmp_path: Path) -> None:
        make_dataset(tmp_path, 2, size=8)
        extra = IndexEntry(crop="x.png", source="v.mp4", frame=30, landmarks=((1.5, 2.0),) * 5)
        append_index(tmp_path, [extra])
        entries = read_index(tmp_path)
        assert [e.crop for e in entries] == ["crop0.png", "crop1.png", "x.png"]
        assert entries[2].frame == 30 and entries[2].landmarks[0] == (1.5, 2.0) and entries[2].person is None
        assert IndexEntry.from_json(entries[0].to_json()) == entries[0]

    def test_bad_line_names_it(self, tmp_path: Path) -> None:
        (tmp_path / INDEX_NAME).write_text('{"crop": "a.png"}\n')
        with pytest.raises(InputError, match=r"index.jsonl:1"):
            read_index(tmp_path)


class TestFaceCrops:
    def test_reads_and_resizes(self, tmp_path: Path) -> None:
        make_dataset(tmp_path, 3, size=32)
        crops = FaceCrops(tmp_path, image_size=64)
        assert len(crops) == 3
        x = crops[1]
        assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and -1 <= x.min() and x.max() <= 1

    def test_no_index(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="vidswap prepare"):
            FaceCrops(tmp_path)

    def test_missing_crop(self, tmp_path: Path) -> None:
        make_dataset(tmp_path, 2, size=8)
        (tmp_path / "crop1.png").unlink()
        with pytest.raises(InputError, match="crop1.png"):
            FaceCrops(tmp_path)

    def test_pixel_conversion_round_trip(self) -> None:
        rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
        assert np.array_equal(tensor_to_image(image_to_tensor(rgb)), rgb)


class TestPairSampler:
    @pytest.mark.parametrize(("share", "batch", "same"),
                             [(0.2, 10, 2), (0.0, 4, 0), (1.0, 3, 3), (0.5, 5, 2)])
    def test_same_share(self, share: float, batch: int, same: int) -> None:
        sampler = PairSampler(1000, batch_size=batch, same_share=share, seed=1)
        for step in range(5):
            pairs = sampler.batch(step)
            assert len(pairs) == batch
            assert all(s == t for s, t in pairs[:same])
            # With 1000 crops a chance coincidence is rare; the default share is the paper's 20%.
            assert sum(s == t for s, t in pairs[same:]) <= 1

    def test_batches_depend_on_seed_step_rank_only(self) -> None:
        straight = PairSampler(50, batch_size=4, seed=3)
        first = [b for _, b in zip(range(6), straight, strict=False)]
        resumed = PairSampler(50, batch_size=4, seed=3, start_step=3)
        assert [b for _, b in zip(range(3), resumed, strict=False)] == first[3:]
        assert PairSampler(50, batch_size=4, seed=3, rank=1).batch(0) != first[0]
        assert PairSampler(50, batch_size=4, seed=4).batch(0) != first[0]

    @pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"batch_size": 2, "same_share": 1.5},
                                        {"batch_size": 2, "same_share": float("nan")}])
    def test_rejects(self, kwargs) -> None:
        with pytest.raises(ConfigError):
            PairSampler(10, **kwargs)


def test_pair_dataset(tmp_path: Path) -> None:
    make_dataset(tmp_path, 2, size=16)
    pairs = PairDataset(FaceCrops(tmp_path, image_size=16))
    x_s, x_t, same = pairs[(1, 1)]
    assert bool(same) and torch.equal(x_s, x_t)
    x_s, x_t, same = pairs[(0, 1)]
    assert not bool(same) and not torch.equal(x_s, x_t)
