"""What a training run leaves to look at: losses (CSV, TensorBoard when installed) and sample grids."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

from vidswap.train.data import tensor_to_image

__all__ = ["LossLog", "sample_grid", "save_sample_grid"]


class LossLog:
    """Appends one row of losses per logged step to ``RUN/losses.csv`` (and TensorBoard if present).

    The CSV's columns are ``step`` and the loss names of the first row; a resumed run appends
    to the same file.

    Args:
        run: the run folder.
        names: loss names, the CSV columns after ``step``.
        tensorboard: also write TensorBoard events to ``RUN/tensorboard`` when the
            ``tensorboard`` package is installed.
    """

    def __init__(self, run: str | Path, names: Sequence[str], *, tensorboard: bool = True) -> None:
        self.path = Path(run) / "losses.csv"
        self.names = tuple(names)
        new = not self.path.is_file()
        self._file = self.path.open("a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(("step", *self.names))
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                pass  # optional: the CSV is the record
            else:
                self._tb = SummaryWriter(str(Path(run) / "tensorboard"))

    def write(self, step: int, losses: Mapping[str, float]) -> None:
        """Record ``losses`` (every name of :attr:`names`) at ``step``."""
        self._csv.writerow((step, *(f"{losses[n]:.6g}" for n in self.names)))
        self._file.flush()
        if self._tb is not None:
            for name in self.names:
                self._tb.add_scalar(f"loss/{name}", losses[name], step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()

    @staticmethod
    def read(path: str | Path) -> list[dict[str, float]]:
        """The rows of a ``losses.csv`` as floats (``step`` included)."""
        with Path(path).open(newline="", encoding="utf-8") as f:
            return [{k: float(v) if v != "" else math.nan for k, v in row.items()}
                    for row in csv.DictReader(f)]


def sample_grid(rows: Sequence[Tensor], *, columns: int = 4) -> np.ndarray:
    """One image of rows of crops (e.g. sources, targets, swaps), ``columns`` crops per row.

    Args:
        rows: each ``B x 3 x H x W`` in [-1, 1], same H and W.
        columns: crops per row (the first ones of each batch).

    Returns:
        ``(len(rows)·H) x (columns·W) x 3`` uint8 RGB.
    """
    n = min(columns, min(r.shape[0] for r in rows))
    lines = [np.concatenate([tensor_to_image(r[i]) for i in range(n)], axis=1) for r in rows]
    return np.concatenate(lines, axis=0)


def save_sample_grid(path: str | Path, rows: Sequence[Tensor], *, columns: int = 4) -> Path:
    """Save :func:`sample_grid` as a PNG (parent folders created)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sample_grid(rows, columns=columns)).save(path)
    return path
