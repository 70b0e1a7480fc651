"""Builders shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vidswap.train.data import IndexEntry, append_index


def make_dataset(folder: Path, count: int, size: int = 256, seed: int = 0) -> Path:
    """A dataset folder of ``count`` random ``size``² crops with their index."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(count):
        name = f"crop{i}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / name)
        entries.append(IndexEntry(crop=name, source=f"photo{i}.jpg", frame=0, person=f"p{i % 2}",
                                  landmarks=tuple((float(k), float(k + 1)) for k in range(5))))
    append_index(folder, entries)
    return folder
