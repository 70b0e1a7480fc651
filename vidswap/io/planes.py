"""Frames as their native planes, and the conversions of a region of one to and from float RGB.

A :class:`Picture` holds a frame in the pixel format it was stored in (8 to 16-bit integer or
32-bit float samples, any chroma subsampling), so a render changes only the samples it means to
change: a region is converted to float RGB on the swapper's device (:func:`region_rgb`), blended
there, converted back to the format's samples (:func:`rgb_samples`) and pasted under the matte
(:func:`paste`); every other sample is the input's, bit for bit.

The format facts (bit depth, chroma subsampling, RGB, YUV or grey, alpha) come from FFmpeg's
own pixel-format descriptor (``av.VideoFormat(name).components``). Formats not held plane by
plane (nv12, p010le, yuyv422, packed RGBA, big-endian ...) are held as their planar equivalent
(:func:`held_format`); chroma is upsampled by repeating each sample over its footprint of luma
pixels and downsampled by the footprint's mean.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from vidswap.errors import ConfigError
from vidswap.io.color import FULL_RANGE, Conversion, luma_weights
from vidswap.io.scale import convert

if TYPE_CHECKING:
    import av
    import torch

__all__ = ["Box", "Layout", "Picture", "layout", "held_format", "reformat", "sequence_rgb", "align_box",
           "region_rgb", "rgb_samples", "paste"]

#: A region ``(x0, y0, x1, y1)`` in luma pixels, ``x1``/``y1`` exclusive.
Box = tuple[int, int, int, int]

#: Packed RGB formats held as one ``(h, w, 3)`` array (what image files give).
_PACKED = ("rgb24", "rgb48le", "rgbf32le")
# Chroma subsampling (log2 width, log2 height) -> the name FFmpeg's planar YUV formats use.
_SUBSAMPLING = {(1, 1): "420", (1, 0): "422", (0, 0): "444", (0, 1): "440", (2, 0): "411", (2, 2): "410"}
_DEPTHS = (8, 9, 10, 12, 14, 16)


@dataclass(frozen=True)
class Layout:
    """How a pixel format holds its samples (from FFmpeg's descriptor).

    Attributes:
        name: the FFmpeg pix_fmt.
        kind: ``yuv``, ``rgb`` or ``gray``.
        depth: bits per sample (32: float).
        is_float: samples are float32 (nominal range [0, 1]).
        shift: chroma subsampling, ``(log2 horizontal, log2 vertical)`` (0, 0 for RGB and grey).
        colour: the plane of each colour component, in the order R, G, B (RGB), Y, Cb, Cr (YUV)
            or Y (grey); all 0 for packed RGB, whose one plane holds R, G, B.
        alpha: the alpha plane, or None.
        packed: one ``(h, w, 3)`` RGB array (rgb24, rgb48le, rgbf32le).
    """

    name: str
    kind: Literal["yuv", "rgb", "gray"]
    depth: int
    is_float: bool
    shift: tuple[int, int]
    colour: tuple[int, ...]
    alpha: int | None
    packed: bool

    @property
    def dtype(self) -> np.dtype:
        """The samples' numpy type."""
        return np.dtype(np.float32 if self.is_float else np.uint8 if self.depth <= 8 else np.uint16)

    @property
    def planes(self) -> int:
        """The number of planes."""
        return 1 if self.packed else len(self.colour) + (self.alpha is not None)

    @property
    def peak(self) -> float:
        """The largest integer sample (1.0 for float)."""
        return 1.0 if self.is_float else float(2**self.depth - 1)

    def plane_shift(self, plane: int) -> tuple[int, int]:
        """The subsampling of one plane (the chroma planes of YUV are subsampled)."""
        return self.shift if self.kind == "yuv" and plane in self.colour[1:] else (0, 0)


@functools.lru_cache(maxsize=64)
def _descriptor(name: str) -> tuple[Literal["yuv", "rgb", "gray"], int, bool, tuple[int, int], bool, bool]:
    """``(kind, depth, float, shift, alpha, one component per plane)`` of any FFmpeg pix_fmt."""
    import av

    try:
        described = av.VideoFormat(name, 64, 64)
    except (ValueError, av.FFmpegError) as err:
        raise ConfigError(f"pix_fmt {name!r} is not an FFmpeg pixel format ({err})") from err
    components = described.components
    colour = [c for c in components if not c.is_alpha]
    kind: Literal["yuv", "rgb", "gray"] = "rgb" if described.is_rgb else "gray" if len(colour) == 1 else "yuv"
    chroma = [c for c in colour if c.is_chroma]
    shift = ((64 // chroma[0].width).bit_length() - 1, (64 // chroma[0].height).bit_length() - 1) if chroma else (0, 0)
    depth = max(c.bits for c in components)
    is_float = depth == 32 or "f16" in name or "f32" in name
    planar = (len({c.plane for c in components}) == len(components) and not described.is_big_endian
              and not described.has_palette and not described.is_bit_stream and not described.is_bayer)
    return kind, 32 if is_float else depth, is_float, shift, any(c.is_alpha for c in components), planar


def _held_as_is(name: str) -> bool:
    """Whether a :class:`Picture` holds frames of ``name`` as they are: one component per plane (or
    packed RGB), little-endian integers of up to 16 bits or float32."""
    _, depth, _, _, _, planar = _descriptor(name)
    return name in _PACKED or (planar and (depth <= 16 or name.endswith("f32le")))


@functools.lru_cache(maxsize=64)
def layout(name: str) -> Layout:
    """The layout of a format a :class:`Picture` holds.

    Raises:
        ConfigError: ``name`` is not a format held natively (see :func:`held_format`).
    """
    import av

    kind, depth, is_float, shift, _, _ = _descriptor(name)
    packed = name in _PACKED
    if not _held_as_is(name):
        raise ConfigError(f"pix_fmt {name} is not held plane by plane; hold it as {held_format(name)[0]}")
    components = av.VideoFormat(name, 64, 64).components
    colour = tuple(0 if packed else c.plane for c in components if not c.is_alpha)
    alphas = [c.plane for c in components if c.is_alpha]
    return Layout(name=name, kind=kind, depth=depth, is_float=is_float, shift=shift, colour=colour,
                  alpha=alphas[0] if alphas else None, packed=packed)


@functools.lru_cache(maxsize=64)
def held_format(name: str) -> tuple[str, bool]:
    """The format a frame of ``name`` is held in, and whether holding it so is lossless.

    Planar formats (and packed rgb24, rgb48le, rgbf32le) are held as they are; others as the
    planar format with the same components, subsampling and depth (nv12 -> yuv420p, p010le ->
    yuv420p10le, yuyv422 -> yuv422p, rgba -> gbrap, rgbf16le -> gbrpf32le), or, where FFmpeg has
    none, the nearest one that loses nothing (a higher depth; 4:4:4 for other subsamplings; RGB
    for palette, Bayer or XYZ formats): then ``lossless`` is False, for a warning.
    """
    import av

    kind, depth, is_float, shift, alpha, _ = _descriptor(name)
    if _held_as_is(name):
        return name, True
    described = av.VideoFormat(name, 64, 64)
    exact = not (described.has_palette or described.is_bayer or name.startswith("xyz"))
    if not exact:
        kind = "rgb"
    if is_float:
        base = {"rgb": "gbrap" if alpha else "gbrp", "gray": "gray", "yuv": "gbrap" if alpha else "gbrp"}[kind]
        return f"{base}f32le", exact and kind != "yuv"
    for bits in (d for d in _DEPTHS if d >= depth):
        suffix = "" if bits == 8 else f"{bits}le"
        if kind == "rgb":
            candidate = f"gbr{'a' if alpha else ''}p{suffix}"
        elif kind == "gray" and not alpha:
            candidate = f"gray{suffix}"
        else:
            sub = _SUBSAMPLING.get(shift, "444") if kind == "yuv" else "444"
            candidate = f"yuv{'a' if alpha else ''}{sub}p{suffix}"
        try:
            av.VideoFormat(candidate)
        except ValueError:
            continue
        same = bits == depth and (kind != "yuv" or shift in _SUBSAMPLING) and kind == _descriptor(name)[0]
        return candidate, exact and same
    return ("gbrap16le" if alpha else "gbrp16le"), False


@dataclass(frozen=True, eq=False)
class Picture:
    """A frame as its native planes.

    Attributes:
        format: the FFmpeg pix_fmt (one :func:`layout` accepts).
        planes: one ``(h_i, w_i)`` array per plane (``(h, w, 3)`` for packed RGB), uint8, uint16
            (samples LSB-aligned, as ``*le`` formats store them) or float32, without line padding.
    """

    format: str
    planes: tuple[np.ndarray, ...]

    @property
    def layout(self) -> Layout:
        return layout(self.format)

    @property
    def height(self) -> int:
        return int(self.planes[0].shape[0])

    @property
    def width(self) -> int:
        return int(self.planes[0].shape[1])

    @classmethod
    def from_frame(cls, frame: av.VideoFrame) -> Picture:
        """The frame's planes, copied (``line_size`` padding dropped); a format not held plane by
        plane is converted to :func:`held_format`'s first (losslessly, unless it says otherwise)."""
        name = held_format(frame.format.name)[0]
        if name != frame.format.name:
            frame = convert(frame, name)
        held = layout(name)
        planes = []
        for plane in frame.planes:
            channels = 3 if held.packed else 1
            row = plane.width * channels * held.dtype.itemsize
            raw = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[:, :row]
            shape = (plane.height, plane.width, 3) if held.packed else (plane.height, plane.width)
            planes.append(raw.copy().view(held.dtype).reshape(shape))
        return cls(name, tuple(planes))

    @classmethod
    def from_rgb(cls, rgb: np.ndarray) -> Picture:
        """An ``(H, W, 3)`` RGB image (uint8, uint16 at full 16-bit scale, or float32) as a packed
        picture (rgb24, rgb48le, rgbf32le)."""
        name = {np.dtype(np.uint8): "rgb24", np.dtype(np.uint16): "rgb48le",
                np.dtype(np.float32): "rgbf32le"}.get(rgb.dtype)
        if name is None or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ConfigError(f"expected (H, W, 3) uint8, uint16 or float32 RGB, got {rgb.shape} {rgb.dtype}")
        return cls(name, (np.ascontiguousarray(rgb),))

    def to_frame(self) -> av.VideoFrame:
        """A new ``av.VideoFrame`` holding these samples."""
        import av

        frame = av.VideoFrame(self.width, self.height, self.format)
        for plane, samples in zip(frame.planes, self.planes, strict=True):
            data = np.ascontiguousarray(samples).view(np.uint8).reshape(samples.shape[0], -1)
            np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[:, :data.shape[1]] = data
        return frame

    def replace(self, planes: dict[int, np.ndarray]) -> Picture:
        """This picture with some planes replaced (by index)."""
        return Picture(self.format, tuple(planes.get(i, p) for i, p in enumerate(self.planes)))


def reformat(picture: Picture, name: str, color: Conversion) -> av.VideoFrame:
    """The picture as an ``av.VideoFrame`` of format ``name``: as it is, or converted by swscale
    with the source's matrix and range on both sides (RGB is always full range)."""
    frame = picture.to_frame()
    if name == picture.format:
        return frame
    source = {"src_colorspace": color.matrix, "src_color_range": color.range} if picture.layout.kind == "yuv" else {}
    return convert(frame, name, dst_colorspace=color.matrix, dst_color_range=color.range, **source)


def sequence_rgb(picture: Picture, color: Conversion) -> np.ndarray:
    """The whole picture as ``(H, W, 3)`` RGB at its own depth, for image-sequence outputs: a
    packed RGB picture (an image sequence's) as it is, bit for bit; otherwise uint8 for 8-bit
    samples, uint16 at full 16-bit scale for deeper ones, float32 for float ones (swscale,
    :func:`reformat`)."""
    if picture.format in _PACKED:
        return picture.planes[0]
    held = picture.layout
    name = "rgbf32le" if held.is_float else "rgb24" if held.depth <= 8 else "rgb48le"
    return np.asarray(reformat(picture, name, color).to_ndarray())


def align_box(box: Box, held: Layout, width: int, height: int) -> Box:
    """``box`` clipped to the frame and grown to whole chroma samples (each edge on the subsampling
    grid, or at the frame's edge)."""
    sx, sy = 1 << held.shift[0], 1 << held.shift[1]
    x0, y0 = max(0, box[0]) // sx * sx, max(0, box[1]) // sy * sy
    x1, y1 = min(width, -(-min(width, box[2]) // sx) * sx), min(height, -(-min(height, box[3]) // sy) * sy)
    return x0, y0, max(x0, x1), max(y0, y1)


def _plane_box(box: Box, shift: tuple[int, int]) -> Box:
    x0, y0, x1, y1 = box
    sx, sy = shift
    return x0 >> sx, y0 >> sy, -(-x1 >> sx), -(-y1 >> sy)


def _scale(held: Layout, color: Conversion) -> tuple[float, float, float]:
    """``(luma offset, luma scale, chroma scale)``: sample = offset + scale * value (chroma around
    the middle code)."""
    if held.is_float:
        return 0.0, 1.0, 1.0
    if held.kind == "rgb" or color.range == FULL_RANGE:
        return 0.0, held.peak, held.peak
    unit = float(1 << (held.depth - 8))
    return 16 * unit, 219 * unit, 224 * unit


def _codes_from_rgb(held: Layout, color: Conversion) -> tuple[np.ndarray, np.ndarray]:
    """``(M, b)``: the samples of a pixel (Y, Cb, Cr codes) are ``M @ rgb + b``."""
    kr, kb = luma_weights(color.matrix)
    kg = 1 - kr - kb
    # Y' = kr R + kg G + kb B; Cb' = (B - Y') / (2 (1 - kb)); Cr' = (R - Y') / (2 (1 - kr)).
    normalised = np.array([[kr, kg, kb],
                           [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
                           [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))]])
    offset, luma, chroma = _scale(held, color)
    middle = 0.0 if held.is_float else float(1 << (held.depth - 1))
    return normalised * np.array([[luma], [chroma], [chroma]]), np.array([offset, middle, middle])


def _affine(matrix: np.ndarray, bias: np.ndarray, values: torch.Tensor) -> torch.Tensor:
    """``matrix @ values + bias`` over the pixels of ``(3, h, w)`` values."""
    import torch

    m = torch.as_tensor(matrix, dtype=values.dtype, device=values.device)
    b = torch.as_tensor(bias, dtype=values.dtype, device=values.device)
    return torch.addmm(b[:, None], m, values.reshape(3, -1)).view(values.shape)


def region_rgb(picture: Picture, box: Box, color: Conversion, device: torch.device | str | None = None
               ) -> torch.Tensor:
    """The picture's ``box`` (aligned, :func:`align_box`) as ``(3, h, w)`` float32 RGB in [0, 1]
    (float formats unclamped), on ``device``, with the source's matrix and range."""
    import torch

    held = picture.layout
    x0, y0, x1, y1 = box

    def samples(plane: int) -> torch.Tensor:
        px0, py0, px1, py1 = _plane_box(box, held.plane_shift(plane))
        cut = picture.planes[plane][py0:py1, px0:px1]
        return torch.from_numpy(cut.astype(np.float32)).to(device)

    if held.packed:
        return samples(0).permute(2, 0, 1) / held.peak
    if held.kind == "rgb":
        return torch.stack([samples(p) for p in held.colour]) / held.peak
    offset, luma, _ = _scale(held, color)
    if held.kind == "gray":
        return ((samples(held.colour[0]) - offset) / luma)[None].expand(3, -1, -1).clone()
    sx, sy = held.shift
    # Each chroma sample over its footprint of luma pixels (cut at the frame's edge).
    chroma = torch.stack([samples(p) for p in held.colour[1:]])
    chroma = chroma.repeat_interleave(1 << sy, 1).repeat_interleave(1 << sx, 2)[:, :y1 - y0, :x1 - x0]
    codes = torch.cat([samples(held.colour[0])[None], chroma])
    matrix, bias = _codes_from_rgb(held, color)
    rgb_from_codes = np.linalg.inv(matrix)
    return _affine(rgb_from_codes, -rgb_from_codes @ bias, codes)


def rgb_samples(rgb: torch.Tensor, held: Layout, color: Conversion) -> list[torch.Tensor]:
    """``(3, h, w)`` float RGB of an aligned region -> the samples of each colour plane
    (``held.colour`` order; chroma at its own resolution, the mean over each footprint), rounded
    and clamped to the format's codes (float formats as they are), float32."""
    import torch.nn.functional as F

    def code(values: torch.Tensor) -> torch.Tensor:
        return values if held.is_float else values.round_().clamp_(0, held.peak)

    if held.kind == "rgb":
        return list(code(rgb * held.peak))
    matrix, bias = _codes_from_rgb(held, color)
    if held.kind == "gray":
        return [code(_affine(matrix, bias, rgb)[0])]
    codes = _affine(matrix, bias, rgb)
    sx, sy = held.shift
    chroma = codes[1:]
    if sx or sy:
        chroma = F.avg_pool2d(chroma[None], (1 << sy, 1 << sx), ceil_mode=True)[0]  # mean of what is in frame
    return [code(codes[0]), *code(chroma)]


def paste(picture: Picture, box: Box, rgb: torch.Tensor, matte: torch.Tensor, color: Conversion) -> Picture:
    """``picture`` with the aligned ``box`` replaced by ``rgb`` where ``matte`` > 0.

    A luma (or RGB) sample is replaced where its pixel's matte is > 0, a chroma sample where
    the matte is > 0 anywhere in its footprint; alpha planes and every other sample stay as
    they are, bit for bit.

    Args:
        picture: the frame.
        box: the region (:func:`align_box`).
        rgb: ``(3, h, w)`` float RGB of the region.
        matte: ``(h, w)`` float weights of the region (only > 0 matters here).
        color: the source's matrix and range.

    Returns:
        A new picture (planes not touched are shared).
    """
    import torch.nn.functional as F

    held = picture.layout
    touched = matte > 0
    if not bool(touched.any()):
        return picture
    values = [v.cpu().numpy() for v in rgb_samples(rgb, held, color)]
    x0, y0, x1, y1 = box
    if held.packed:
        packed = picture.planes[0].copy()
        inside = touched.cpu().numpy()[..., None]
        np.copyto(packed[y0:y1, x0:x1], np.stack(values, axis=-1), casting="unsafe", where=inside)
        return picture.replace({0: packed})
    changed: dict[int, np.ndarray] = {}
    footprints: dict[tuple[int, int], np.ndarray] = {}
    for plane, samples in zip(held.colour, values, strict=True):
        shift = held.plane_shift(plane)
        if shift not in footprints:
            where = touched[None, None].float()
            if shift != (0, 0):
                where = F.max_pool2d(where, (1 << shift[1], 1 << shift[0]), ceil_mode=True)
            footprints[shift] = where[0, 0].cpu().numpy() > 0
        px0, py0, px1, py1 = _plane_box(box, shift)
        out = picture.planes[plane].copy()
        np.copyto(out[py0:py1, px0:px1], samples, casting="unsafe", where=footprints[shift])
        changed[plane] = out
    return picture.replace(changed)
