"""RGB <-> stored pixel conversion with the source's own YUV matrix and range.

swscale assumes BT.601 limited range unless told; HD footage converted that way shifts
colour. Both the reader and the writer use :func:`conversion` so a decode-encode round trip
uses one matrix, and untagged sources follow FFmpeg's own guess (BT.709 from 720 lines up).
"""

from __future__ import annotations

from dataclasses import dataclass

from vidswap.io.probe import ColorInfo

__all__ = ["Conversion", "conversion"]

_BT709, _BT601, _UNSPECIFIED = 1, 5, 2
_LIMITED, _FULL = 1, 2


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
