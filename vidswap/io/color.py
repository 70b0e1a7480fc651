"""RGB <-> stored pixel conversion with the source's own YUV matrix and range.

swscale assumes BT.601 limited range unless told; HD footage converted that way shifts
colour. Both the reader and the writer use :func:`conversion` so a decode-encode round trip
uses one matrix, and untagged sources follow FFmpeg's own guess (BT.709 from 720 lines up).
"""

from __future__ import annotations

from dataclasses import dataclass

from vidswap.io.probe import ColorInfo

__all__ = ["Conversion", "conversion", "luma_weights", "FULL_RANGE"]

_BT709, _BT601, _UNSPECIFIED = 1, 5, 2
_LIMITED, _FULL = 1, 2
#: FFmpeg's ``AVCOL_RANGE_JPEG``: full-range samples.
FULL_RANGE = _FULL

# (Kr, Kb) of each matrix :func:`conversion` can return (FFmpeg ``AVColorSpace`` values):
# BT.709, FCC, BT.470BG and SMPTE 170M (BT.601), SMPTE 240M, BT.2020 (non-constant and constant).
_WEIGHTS = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114),
            7: (0.212, 0.087), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Conversion:
    """The swscale colourspace and range to use for one video (FFmpeg enum values)."""

    matrix: int
    range: int


def conversion(color: ColorInfo, *, height: int, pix_fmt: str) -> Conversion:
    """The matrix and range that convert this video's pixels to and from RGB.

    Args:
        color: the video's tags; unspecified values are guessed.
        height: frame height in pixels (>= 720 guesses BT.709, below BT.601).
        pix_fmt: the stored pixel format (``yuvj*`` means full range).
    """
    matrix = color.matrix
    if matrix in (0, _UNSPECIFIED, 3, 8) or matrix > 10:  # values swscale has no matrix for
        matrix = _BT709 if height >= 720 else _BT601
    value_range = color.range
    if value_range not in (_LIMITED, _FULL):
        value_range = _FULL if pix_fmt.startswith("yuvj") else _LIMITED
    return Conversion(matrix=matrix, range=value_range)


def luma_weights(matrix: int) -> tuple[float, float]:
    """``(Kr, Kb)``: the red and blue weights of luma for a matrix of :func:`conversion`."""
    return _WEIGHTS[matrix]
