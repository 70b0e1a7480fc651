"""Training data: the aligned-crop dataset that ``vidswap prepare`` writes, and pair sampling.

A dataset is a folder with ``index.jsonl`` (one :class:`IndexEntry` per line) and the crops it
names (PNG, RGB, ``image_size``² aligned as the model's config says). Pairs (X_s, X_t) are drawn
by :class:`PairSampler`: a fixed share of each batch has the same image as source and target
(that is where L_rec applies), the rest pairs two different crops. Batches depend only on the
seed, the step and the rank, so a resumed or distributed run draws what a straight run would.

Convention: images are ``3 x S x S`` float32 RGB in [-1, 1] (``pixel / 127.5 − 1``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from vidswap.errors import ConfigError, InputError

__all__ = ["INDEX_NAME", "IndexEntry", "read_index", "append_index", "FaceCrops", "PairSampler",
           "PairDataset", "step_generator", "image_to_tensor", "tensor_to_image"]

#: The index file of a dataset folder.
INDEX_NAME = "index.jsonl"


@dataclass(frozen=True, kw_only=True)
class IndexEntry:
    """One aligned crop of a dataset.

    Attributes:
        crop: file name of the crop, relative to the dataset folder.
        source: the photo or video it was cut from (as given to ``vidswap prepare``).
        frame: frame number in ``source`` (0 for a photo).
        landmarks: the 5 detected landmarks, ``(x, y)`` source-frame pixels, ArcFace order.
        person: identity label when known (e.g. the input's folder name), else None.
        sharpness: variance of the Laplacian of the crop's grey levels (higher is sharper).
    """

    crop: str
    source: str
    frame: int
    landmarks: tuple[tuple[float, float], ...]
    person: str | None = None
    sharpness: float = 0.0

    def to_json(self) -> str:
        """One JSON line (no newline)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> IndexEntry:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on a bad line."""
        data = json.loads(text)
        data["landmarks"] = tuple(tuple(float(v) for v in p) for p in data["landmarks"])
        return cls(**data)


def read_index(folder: str | Path) -> list[IndexEntry]:
    """The entries of ``folder/index.jsonl`` in file order (empty when there is no index yet).

    Raises:
        InputError: a line is not a valid entry (the message names the line).
    """
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(IndexEntry.from_json(line))
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{path}:{number}: not a dataset index entry ({err}); expected a JSON object "
                             "with crop, source, frame, landmarks") from err
    return entries


def append_index(folder: str | Path, entries: Sequence[IndexEntry]) -> None:
    """Append entries to ``folder/index.jsonl`` and flush them to disk (a crash loses none)."""
    import os

    path = Path(folder) / INDEX_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for entry in entries:
            f.write(entry.to_json() + "\n")
        f.flush()
        os.fsync(f.fileno())


def image_to_tensor(rgb: np.ndarray) -> Tensor:
    """``H x W x 3`` uint8 RGB → ``3 x H x W`` float32 in [-1, 1]."""
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1).float().div(127.5).sub(1.0)


def tensor_to_image(x: Tensor) -> np.ndarray:
    """``3 x H x W`` float in [-1, 1] → ``H x W x 3`` uint8 RGB (clamped)."""
    return (x.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy())


class FaceCrops(Dataset[Tensor]):
    """The crops of a dataset folder as ``3 x S x S`` tensors in [-1, 1].

    Crops of another size are resized (bicubic) to ``image_size``, so a folder of e.g. 224²
    crops aligned the same way can be used as is.

    Args:
        folder: a folder written by ``vidswap prepare`` (``index.jsonl`` + crops).
        image_size: side the model takes (256).

    Raises:
        InputError: no index, an empty one, or a crop file it names is missing.
    """

    def __init__(self, folder: str | Path, *, image_size: int = 256) -> None:
        self.folder = Path(folder)
        if not (self.folder / INDEX_NAME).is_file():
            raise InputError(f"{self.folder} is not a training dataset: {INDEX_NAME} is missing; "
                             "make one with `vidswap prepare PHOTOS_OR_VIDEOS -o DATASET`")
        self.entries = read_index(self.folder)
        if not self.entries:
            raise InputError(f"{self.folder / INDEX_NAME} lists no crops; prepare more photos or videos")
        missing = next((e.crop for e in self.entries if not (self.folder / e.crop).is_file()), None)
        if missing is not None:
            raise InputError(f"{self.folder}: crop {missing} named in {INDEX_NAME} is missing; "
                             "re-run `vidswap prepare` on the same inputs to restore it")
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Tensor:
        from PIL import Image

        with Image.open(self.folder / self.entries[index].crop) as image:
            image = image.convert("RGB")
            if image.size != (self.image_size, self.image_size):
                image = image.resize((self.image_size, self.image_size), Image.Resampling.BICUBIC)
            return image_to_tensor(np.asarray(image))


def step_generator(*keys: int) -> torch.Generator:
    """A CPU generator seeded from integers (e.g. seed, step, rank): reproducible draws per step."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)


class PairSampler:
    """Endless batches of (source, target) index pairs, the same for a given seed, step and rank.

    The first ``round(same_share * batch_size)`` pairs of each batch have source = target; the
    others draw source and target independently (they may coincide by chance in tiny sets).

    Args:
        size: number of crops in the dataset.
        batch_size: pairs per batch (per process under DDP).
        same_share: share of each batch with X_s = X_t, in [0, 1] (the paper: 0.2).
        seed: base seed.
        start_step: the step of the first batch (a resumed run passes its step).
        rank: process rank under DDP (each rank draws its own batches).
    """

    def __init__(self, size: int, *, batch_size: int, same_share: float = 0.2, seed: int = 0,
                 start_step: int = 0, rank: int = 0) -> None:
        if size < 1:
            raise ConfigError(f"a pair sampler needs at least one crop, got {size}")
        if batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size}")
        if not 0.0 <= same_share <= 1.0 or math.isnan(same_share):
            raise ConfigError(f"same-pair share must lie in [0, 1], got {same_share}")
        self.size, self.batch_size, self.same_share = size, batch_size, same_share
        self.seed, self.step, self.rank = seed, start_step, rank

    @property
    def same_count(self) -> int:
        """Pairs per batch with the same image as source and target."""
        return round(self.same_share * self.batch_size)

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The (source, target) index pairs of ``step``."""
        generator = step_generator(self.seed, step, self.rank)
        targets = torch.randint(self.size, (self.batch_size,), generator=generator)
        sources = torch.randint(self.size, (self.batch_size,), generator=generator)
        sources[:self.same_count] = targets[:self.same_count]
        return list(zip(sources.tolist(), targets.tolist(), strict=True))

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        while True:
            yield self.batch(self.step)
            self.step += 1


class PairDataset(Dataset[tuple[Tensor, Tensor, Tensor]]):
    """Maps a (source, target) index pair to ``(x_s, x_t, same)`` (use with :class:`PairSampler`
    as a DataLoader ``batch_sampler``); ``same`` is a bool tensor, true when the indices match."""

    def __init__(self, crops: Dataset[Tensor]) -> None:
        self.crops = crops

    def __len__(self) -> int:
        return len(self.crops)  # type: ignore[arg-type]

    def __getitem__(self, pair: tuple[int, int]) -> tuple[Tensor, Tensor, Tensor]:
        source, target = pair
        x_t = self.crops[target]
        x_s = x_t if source == target else self.crops[source]
        return x_s, x_t, torch.tensor(source == target)
