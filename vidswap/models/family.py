"""The swap-model seam: what every swap-model family offers, and the registry of families.

A model file names its family in its header (:mod:`vidswap.models.checkpoint`; files written
before the field existed are ``faceshifter``). Loading a file looks the family up in
:data:`FAMILIES` and lets its class read the file, so the pipeline and training never branch
on the family. Adding a family (SimSwap, inswapper, a FaceShifter variant) is its module,
whose class implements :class:`SwapModel`, and one line in :data:`FAMILIES`.

Convention: aligned crops ``(B, 3, S, S)`` RGB in [-1, 1] (S = :attr:`SwapModel.crop_size`,
aligned as :attr:`SwapModel.alignment` says), z_id ``(B, c_id)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NamedTuple, Protocol

from vidswap.errors import CheckpointError

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from vidswap.faces.align import TemplateMode
    from vidswap.models.checkpoint import ModelHeader

__all__ = ["FAMILIES", "DEFAULT_FAMILY", "Swap", "SwapModelConfig", "SwapModel", "family_class", "load_swap_model"]

#: family name (the ``family`` field of a model file's header) -> "module:class" of its :class:`SwapModel`.
FAMILIES: dict[str, str] = {
    "faceshifter": "vidswap.models.faceshifter:ModelBundle",
}

#: The family of model files whose header has no ``family`` field (all files before it existed).
DEFAULT_FAMILY = "faceshifter"


class SwapModelConfig(Protocol):
    """What the pipeline reads from any family's config."""

    @property
    def alignment(self) -> TemplateMode:
        """The face alignment the weights expect (an :class:`~vidswap.faces.align.AlignConfig` template)."""
        ...

    @property
    def image_size(self) -> int:
        """Side of the aligned crop the model swaps."""
        ...

    @property
    def c_id(self) -> int:
        """Size of z_id."""
        ...

    @property
    def id_normalized(self) -> bool:
        """Whether z_id is L2-normalised (the source identity is then a normalised mean)."""
        ...


class Swap(NamedTuple):
    """A batch of swapped crops, with where the model found the target occluded when it looked.

    Attributes:
        images: ``(B, 3, S, S)`` the swapped crops in [-1, 1].
        occlusion: ``(B, 1, S, S)`` in [0, 1], what the refinement stage treated as occluding the
            face (FaceShifter: HEAR-Net's heuristic error); None when no refinement ran.
    """

    images: Tensor
    occlusion: Tensor | None = None


class SwapModel(Protocol):
    """A loaded swap model: its identity side (crop + encoder) and its swap, on one device."""

    #: The registry name, written into the header of the files the family saves.
    family: ClassVar[str]

    @property
    def config(self) -> SwapModelConfig:
        """The model's config."""
        ...

    @property
    def crop_size(self) -> int:
        """Side of the aligned crop ``swap`` and ``embed`` take."""
        ...

    @property
    def alignment(self) -> TemplateMode:
        """The alignment template of the crops (``arcface``, ``insightface-poses``)."""
        ...

    @property
    def can_refine(self) -> bool:
        """Whether ``swap(..., refine=True)`` does more than the plain swap (e.g. HEAR-Net is present)."""
        ...

    def identity_crop(self, crops: Tensor) -> Tensor:
        """The identity encoder's input made from aligned crops; the one crop training and inference use."""
        ...

    def embed(self, crops: Tensor) -> Tensor:
        """Raw identity embeddings ``(B, c_id)`` float32 of aligned crops (through :meth:`identity_crop`),
        computed in float32 whatever autocast the caller set."""
        ...

    def swap(self, x_t: Tensor, z_id: Tensor, *, refine: bool) -> Swap:
        """Swap the faces of ``x_t`` to ``z_id`` (in the form the model takes); ``refine`` runs the
        refinement stage when the model has one (and gives its occlusion estimate).

        Runs under the caller's autocast (the run's precision); the parts that must stay in
        float32 (FaceShifter: the identity encoder) leave it themselves."""
        ...

    def to(self, device: torch.device) -> SwapModel:
        """The model on ``device``, frozen and in eval mode."""
        ...

    @classmethod
    def load(cls, path: Path, header: ModelHeader, *, device: torch.device) -> SwapModel:
        """Read a model file of this family (``header`` is its already parsed header)."""
        ...


def family_class(name: str) -> type[SwapModel]:
    """The :class:`SwapModel` class of family ``name`` (its module is imported only now).

    Raises:
        CheckpointError: the family is not registered.
    """
    if name not in FAMILIES:
        raise CheckpointError(f"unknown swap-model family {name!r}; this vidswap knows "
                              f"{', '.join(sorted(FAMILIES))}")
    module_name, attr = FAMILIES[name].split(":")
    cls: type[SwapModel] = getattr(importlib.import_module(module_name), attr)
    return cls


def load_swap_model(path: str | Path, *, device: str | torch.device = "cpu") -> SwapModel:
    """Load any model file onto ``device``, frozen and in eval mode, through its family's class.

    Raises:
        InputError: the file does not exist.
        CheckpointError: not a vidswap model file, an unknown family, or tensors that do not fit.
    """
    import torch

    from vidswap.models.checkpoint import read_model_header

    path = Path(path)
    header = read_model_header(path)
    resolved = torch.device(device)
    return family_class(header.family).load(path, header, device=resolved).to(resolved)
