"""The mask's settings (:class:`MaskConfig`), apart from the torch code that draws masks, so the
pipeline schema reads them without importing torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, Strict

from vidswap.settings import check_settings

__all__ = ["ColourMatch", "MaskConfig"]

#: Colour matching inside the mask: ``none``, or the swapped face's per-channel mean and standard
#: deviation matched to the original's, in ``lab`` or ``rgb``.
ColourMatch = Literal["none", "lab", "rgb"]


@dataclass(frozen=True, kw_only=True)
class MaskConfig:
    """The soft mask that pastes the swapped face back into the frame: the pipeline's ``mask``
    section as it is (names, defaults and bounds are declared here only). Lengths are fractions
    of the aligned crop's side, so they do not depend on the shot's resolution.

    Attributes:
        shape: ``hull`` (landmark hull, pushed out) or ``ellipse``.
        scale: how far the shape reaches: the hull is the landmarks' hull scaled by it about
            their centre; the ellipse's semi-axes are 0.6 x scale (eyes to mouth) and 0.5 x scale
            (across) times the eye-to-mouth distance, centred between eyes and mouth.
        erosion: shrink the shape by this fraction of the crop side, in [0, 0.5).
        blur: Gaussian feather sigma, fraction of the crop side, in [0, 0.5).
        colour_match: give the swapped face the original's colour statistics inside the mask:
            ``none``, or matched in ``lab`` or ``rgb`` (:class:`~vidswap.faces.blend.Compositor`).
    """

    shape: Literal["hull", "ellipse"] = "hull"
    scale: Annotated[float, Strict(), Field(gt=0.0)] = 1.9
    erosion: Annotated[float, Strict(), Field(ge=0.0, lt=0.5)] = 0.02
    blur: Annotated[float, Strict(), Field(ge=0.0, lt=0.5)] = 0.03
    colour_match: ColourMatch = "none"

    def __post_init__(self) -> None:
        check_settings(self, "mask")
