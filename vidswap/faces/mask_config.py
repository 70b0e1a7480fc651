"""The mask's settings (:class:`MaskConfig`), apart from the torch code that draws masks, so the
pipeline schema reads them without importing torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, Strict

from vidswap.errors import ConfigError
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
        shape: ``hull`` (landmark hull, pushed out), ``ellipse``, or ``dense``: the face oval of
            468 dense landmarks (MediaPipe's face mesh, :mod:`vidswap.faces.landmarks`), which
            follows jaw, cheeks and forehead instead of a pentagon around 5 points.
        scale: how far the hull or ellipse reaches: the hull is the landmarks' hull scaled by it
            about their centre; the ellipse's semi-axes are 0.6 x scale (eyes to mouth) and 0.5 x
            scale (across) times the eye-to-mouth distance, centred between eyes and mouth. The
            dense oval is the face's own outline and does not scale.
        keep_mouth: ``dense`` only: cut the mouth's interior (inside the inner lip line) out of
            the mask, so the target's own teeth and tongue stay.
        keep_eyes: ``dense`` only: cut the eyes (inside the eyelids) out of the mask, so the
            target's own eyes and gaze stay.
        smoothing: ``dense`` only: how much of a track's previous dense landmarks (in crop
            space) each frame keeps, in [0, 1): 0 uses each frame's own, larger steadies the
            mask's outline against the landmark model's jitter.
        erosion: shrink the shape by this fraction of the crop side, in [0, 0.5).
        blur: Gaussian feather sigma, fraction of the crop side, in [0, 0.5). Every mask is also
            faded to 0 at the crop's border, over 3 x blur (at least 3%) of the side
            (:func:`vidswap.faces.mask.border_band`).
        colour_match: give the swapped face the original's colour statistics inside the mask:
            ``none``, or matched in ``lab`` or ``rgb`` (:class:`~vidswap.faces.blend.Compositor`).
    """

    shape: Literal["hull", "ellipse", "dense"] = "hull"
    scale: Annotated[float, Strict(), Field(gt=0.0)] = 1.9
    erosion: Annotated[float, Strict(), Field(ge=0.0, lt=0.5)] = 0.02
    blur: Annotated[float, Strict(), Field(ge=0.0, lt=0.5)] = 0.03
    colour_match: ColourMatch = "none"
    keep_mouth: Annotated[bool, Strict()] = False
    keep_eyes: Annotated[bool, Strict()] = False
    smoothing: Annotated[float, Strict(), Field(ge=0.0, lt=1.0)] = 0.5

    def __post_init__(self) -> None:
        check_settings(self, "mask")
        for name in ("keep_mouth", "keep_eyes"):
            if getattr(self, name) and self.shape != "dense":
                raise ConfigError(f"mask.{name} needs the dense landmarks: set mask.shape to dense "
                                  f"(it is {self.shape})", setting=f"mask.{name}")
