"""Layer files for compositors: full-frame RGBA and single-channel images, in float or 16 bits.

A turnover (:mod:`vidswap.pipeline.turnover`) writes the swapped face as a premultiplied RGBA
layer and its matte as a single channel, one file per frame, in one of :data:`LAYER_FORMATS`:
OpenEXR half (the default) or float, or 16-bit TIFF or PNG (values clipped to 0..1, 1/65535
steps). All are compressed losslessly (EXR ZIP, 16 lines per chunk; TIFF deflate): a layer is
zero outside the face, so a 1080p half layer is about 25 times smaller than uncompressed.
EXR files carry the source's timecode and frame rate in their header
(:mod:`vidswap.io.exr`); TIFF and PNG have no such fields.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidswap.errors import ConfigError
from vidswap.io import exr
from vidswap.io.codecs import video_encoder
from vidswap.io.scale import convert

if TYPE_CHECKING:
    import av

__all__ = ["LayerFormat", "LAYER_FORMATS", "LAYER_FORMAT_CHOICES", "DEFAULT_LAYER_FORMAT", "write_layer"]


@dataclass(frozen=True)
class LayerFormat:
    """One layer file type.

    Attributes:
        suffix: the files' extension.
        encoder: FFmpeg's encoder.
        rgba: the pixel format of an RGBA layer; ``grey`` that of a matte.
        float: samples are floating point (else 16-bit integers, clipped to 0..1).
        nuke: the Read node's ``file_type``.
        precision: significant bits of its samples (half: 11): a plate of more than ``precision - 1``
            bits is not re-created within one code value by the layer over it.
        options: the encoder's options.
    """

    suffix: str
    encoder: str
    rgba: str
    grey: str
    float: bool
    nuke: str
    precision: int
    options: dict[str, str] = field(default_factory=dict)


def _exr(samples: str, precision: int) -> LayerFormat:
    return LayerFormat(suffix=".exr", encoder="exr", rgba="gbrapf32le", grey="grayf32le", float=True, nuke="exr",
                       precision=precision, options={"format": samples, "compression": "zip16"})


#: The layer file types by ``turnover.format`` name.
LAYER_FORMATS: dict[str, LayerFormat] = {
    "exr": _exr("half", 11),
    "exr-float": _exr("float", 24),
    "tiff": LayerFormat(suffix=".tif", encoder="tiff", rgba="rgba64le", grey="gray16le", float=False, nuke="tiff",
                        precision=16, options={"compression_algo": "deflate"}),
    "png": LayerFormat(suffix=".png", encoder="png", rgba="rgba64be", grey="gray16be", float=False, nuke="png",
                       precision=16),
}
LAYER_FORMAT_CHOICES = tuple(LAYER_FORMATS)
DEFAULT_LAYER_FORMAT = "exr"


def _frame(samples: np.ndarray, layer: LayerFormat) -> av.VideoFrame:
    """An FFmpeg frame of float samples in the layer's pixel format (16-bit codes rounded here)."""
    import av

    rgba = samples.ndim == 3
    if layer.float:
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(samples, np.float32),
                                          format=layer.rgba if rgba else layer.grey)
    codes = np.rint(np.clip(np.nan_to_num(samples), 0, 1) * 65535).astype(np.uint16)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(codes), format="rgba64le" if rgba else "gray16le")
    wanted = layer.rgba if rgba else layer.grey
    return frame if frame.format.name == wanted else convert(frame, wanted)


def write_layer(path: Path, samples: np.ndarray, layer: LayerFormat, *, rate: Fraction,
                timecode: str | None = None, comment: str | None = None) -> Path:
    """Write one ``(H, W, 4)`` RGBA or ``(H, W)`` single-channel float32 image under a temporary
    name, then rename it; an EXR gets ``framesPerSecond`` (and ``timeCode`` and ``comments`` when
    given) in its header.

    Raises:
        ConfigError: not such an array.
    """
    if samples.dtype != np.float32 or not (samples.ndim == 2 or (samples.ndim == 3 and samples.shape[2] == 4)):
        raise ConfigError(f"{path}: expected an (H, W, 4) or (H, W) float32 layer, got {samples.shape} {samples.dtype}")
    context = video_encoder(layer.encoder)
    context.width, context.height = samples.shape[1], samples.shape[0]
    context.pix_fmt = layer.rgba if samples.ndim == 3 else layer.grey
    context.time_base = Fraction(1, 25)
    context.options = dict(layer.options)
    data = b"".join(bytes(p) for p in context.encode(_frame(samples, layer)) + context.encode(None))
    if layer.encoder == "exr":
        added = {"pixelAspectRatio": ("float", exr.float_value(1.0)),
                 "framesPerSecond": ("rational", exr.rational_value(rate))}
        if timecode is not None:
            added["timeCode"] = ("timecode", exr.timecode_value(timecode))
        if comment is not None:
            added["comments"] = ("string", comment.encode())
        data = exr.with_attributes(data, added)
    temp = path.with_name(f".{path.name}.vidswap-tmp-{uuid.uuid4().hex[:8]}")
    temp.write_bytes(data)
    os.replace(temp, path)
    return path
