"""The one configuration of the FaceShifter networks (AEI-Net, HEAR-Net, discriminator, identity).

Torch-free, so the CLI and the pipeline spec can read and check a model's settings without
loading torch. Every network is built from a :class:`FaceShifterConfig`; presets name the two
sizes the project uses (``paper`` at the published size, ``tiny`` for tests), and the config
travels with the weights as JSON (see :mod:`vidswap.models.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

from vidswap.errors import ConfigError
from vidswap.faces.templates import TemplateMode

__all__ = ["Alignment", "IdentityBackbone", "PRESETS", "FaceShifterConfig", "IMAGE_SIZE"]

#: The face alignment a model was trained with (:data:`vidswap.faces.templates.ALIGNMENTS`).
Alignment = TemplateMode
IdentityBackbone = Literal["iresnet50", "iresnet100", "iresnet-tiny"]

#: Side of the aligned crop AEI-Net works on. Fixed by the topology: seven stride-2 convs bring
#: 256² down to the 2x2 bottleneck the generator's 2x2 transposed conv starts from; a smaller
#: crop would need a 1x1 bottleneck, on which InstanceNorm is undefined.
IMAGE_SIZE = 256


@dataclass(frozen=True, kw_only=True)
class FaceShifterConfig:
    """Sizes and conventions of one FaceShifter model; every field has the ``paper`` default.

    Args:
        encoder_channels: output channels of the attribute encoder's seven 4x4 stride-2 convs
            (256² → 2²); the up path mirrors them.
        generator_channels: input channels of the eight AAD ResBlks (the last one outputs 3).
        aad_units: AAD → ReLU → 3x3 conv units per AAD ResBlk (ghost ships 1, 2 and 3).
        c_id: size of the identity embedding z_id (512 for ArcFace backbones).
        id_normalized: whether z_id is L2-normalised before AEI-Net sees it (ghost: raw).
        alignment: the face alignment the weights expect: ``arcface`` (the ArcFace 5-point
            template scaled to the crop) or ``insightface-poses`` (best of insightface's five
            pose templates, as ghost).
        identity_backbone: the ArcFace IResNet that computes z_id from a 112² crop.
        hear_channels: output channels of HEAR-Net's five 4x4 stride-2 convs (256² → 8²).
        disc_channels: channels of the discriminator's first conv (pix2pixHD ``ndf``).
        disc_layers: stride-2 convs per discriminator scale (pix2pixHD ``n_layers``).
        disc_scales: scales of the multi-scale discriminator (each halves the image).
    """

    encoder_channels: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 1024)
    generator_channels: tuple[int, ...] = (1024, 1024, 1024, 1024, 512, 256, 128, 64)
    aad_units: int = 2
    c_id: int = 512
    id_normalized: bool = True
    alignment: Alignment = "arcface"
    identity_backbone: IdentityBackbone = "iresnet100"
    hear_channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    disc_channels: int = 64
    disc_layers: int = 5
    disc_scales: int = 3

    def __post_init__(self) -> None:
        for name, length in (("encoder_channels", 7), ("generator_channels", 8), ("hear_channels", 5)):
            value = tuple(getattr(self, name))
            object.__setattr__(self, name, value)
            if len(value) != length or not all(isinstance(c, int) and c > 0 for c in value):
                raise ConfigError(f"{name} must be {length} positive integers, got {value!r}")
        for name, low, high in (("aad_units", 1, 3), ("c_id", 1, 1 << 16), ("disc_channels", 1, 1 << 12),
                                ("disc_layers", 1, 6), ("disc_scales", 1, 4)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if not isinstance(self.id_normalized, bool):
            raise ConfigError(f"id_normalized must be true or false, got {self.id_normalized!r}")
        for name, allowed in (("alignment", get_args(Alignment)),
                              ("identity_backbone", get_args(IdentityBackbone))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")

    @property
    def image_size(self) -> int:
        """Side of the square RGB crop AEI-Net and HEAR-Net take and return (256)."""
        return IMAGE_SIZE

    @property
    def attribute_channels(self) -> tuple[int, ...]:
        """Channels of z_att^1..8: the bottleneck, then each up-path output concatenated with
        its skip (twice the skip's channels), the last level repeated at full size."""
        e = self.encoder_channels
        ups = tuple(2 * c for c in reversed(e[:-1]))
        return (e[-1], *ups, ups[-1])

    @property
    def attribute_shapes(self) -> tuple[tuple[int, int, int], ...]:
        """(C, H, W) of z_att^1..8: 2² doubling to 128², then 256² for the last level."""
        sizes = [IMAGE_SIZE >> (7 - k) for k in range(7)] + [IMAGE_SIZE]
        return tuple((c, s, s) for c, s in zip(self.attribute_channels, sizes, strict=True))

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> FaceShifterConfig:
        """The named preset (``paper`` or ``tiny``), with fields replaced by ``overrides``."""
        if name not in PRESETS:
            raise ConfigError(f"unknown model preset {name!r}; expected one of {', '.join(PRESETS)}")
        return dataclasses.replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (tuples become lists)."""
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceShifterConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused (they mean another version)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys {unknown}; expected some of {sorted(known)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def to_json(self) -> str:
        """The config as one JSON object (keys sorted, so equal configs give equal text)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FaceShifterConfig:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"model config is not valid JSON: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"model config must be a JSON object, got {type(data).__name__}")
        return cls.from_dict(data)


PRESETS: dict[str, FaceShifterConfig] = {
    # The published size in ghost's layout (2 AAD units per block): AEI-Net has 184,343,381
    # parameters. Trained by vidswap: our ArcFace alignment and unit-norm z_id.
    "paper": FaceShifterConfig(),
    # Same topology, 16x narrower, for tests and benchmarks: forward well under 50 ms on one core.
    "tiny": FaceShifterConfig(
        encoder_channels=(2, 4, 8, 16, 32, 64, 64),
        generator_channels=(64, 64, 64, 64, 32, 16, 8, 4),
        identity_backbone="iresnet-tiny",
        hear_channels=(4, 8, 16, 32, 32),
        disc_channels=4,
    ),
}
