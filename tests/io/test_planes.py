"""Pictures (frames as native planes): round trips through av frames, region RGB against swscale,
and the paste that leaves every sample outside the matte as it was."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from vidswap.errors import ConfigError
from vidswap.io.color import Conversion
from vidswap.io.planes import Picture, align_box, held_format, layout, paste, region_rgb, rgb_samples

HELD = ["yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "yuv410p", "yuv420p10le",
        "yuv422p10le", "yuv444p10le", "yuv420p12le", "yuv444p12le", "yuv444p16le", "yuva420p", "yuva444p10le",
        "gbrp", "gbrp10le", "gbrp12le", "gbrp16le", "gbrap", "gbrpf32le", "gbrapf32le", "gray", "gray10le",
        "gray16le", "grayf32le", "rgb24", "rgb48le", "rgbf32le"]
WIDTH, HEIGHT = 37, 23  # odd: the last chroma sample's footprint is cut at the edge


def _random(name: str, seed: int = 0, width: int = WIDTH) -> Picture:
    """A picture of random samples (every code of the format's depth; float in [0, 1])."""
    rng = np.random.default_rng(seed)
    held = layout(name)
    planes = []
    for plane in range(held.planes):
        sx, sy = held.plane_shift(plane)
        shape = (-(-HEIGHT >> sy), -(-width >> sx)) + ((3,) if held.packed else ())
        if held.is_float:
            planes.append(rng.random(shape, dtype=np.float32))
        else:
            planes.append(rng.integers(0, 2**held.depth, shape).astype(held.dtype))
    return Picture(name, tuple(planes))


@pytest.mark.parametrize("name", HELD)
def test_a_picture_survives_av_frames(name: str) -> None:
    picture = _random(name)
    frame = picture.to_frame()
    assert (frame.format.name, frame.width, frame.height) == (name, WIDTH, HEIGHT)
    back = Picture.from_frame(frame)
    assert back.format == name and len(back.planes) == len(picture.planes)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(back.planes, picture.planes, strict=True))


@pytest.mark.parametrize(("name", "held"), [("nv12", "yuv420p"), ("p010le", "yuv420p10le"),
                                            ("yuyv422", "yuv422p"), ("rgba", "gbrap"), ("bgr24", "gbrp"),
                                            ("yuv420p10be", "yuv420p10le"), ("bgr0", "gbrp")])
def test_packed_formats_are_held_as_their_planar_equivalent_losslessly(name: str, held: str) -> None:
    assert held_format(name) == (held, True)
    picture = _random(held, width=WIDTH + 1)  # even: swscale's p010le loses an odd width's last chroma column
    back = Picture.from_frame(picture.to_frame().reformat(format=name))
    assert back.format == held
    assert all(np.array_equal(a, b) for a, b in zip(back.planes, picture.planes, strict=True))


_FIRST_CONVERSION = """
import numpy as np
from vidswap.io.planes import Picture
rng = np.random.default_rng(0)
planes = (rng.integers(0, 1024, (23, 38)), rng.integers(0, 1024, (12, 19)), rng.integers(0, 1024, (12, 19)))
picture = Picture("yuv420p10le", tuple(p.astype(np.uint16) for p in planes))
packed = picture.to_frame().reformat(format="p010le", threads=1)
back = Picture.from_frame(packed)
print(all(np.array_equal(a, b) for a, b in zip(back.planes, picture.planes)))
"""


def test_the_first_conversion_in_a_process_is_exact() -> None:
    # swscale's automatic threading got a row of the first p010le conversion wrong in ~1 process in 3.
    runs = [subprocess.run([sys.executable, "-c", _FIRST_CONVERSION], capture_output=True, text=True, check=True)
            for _ in range(8)]
    assert [run.stdout.strip() for run in runs] == ["True"] * 8


def test_formats_that_cannot_be_held_say_so() -> None:
    assert held_format("pal8") == ("gbrp", False)
    with pytest.raises(ConfigError, match="not held plane by plane; hold it as yuv420p"):
        layout("nv12")


def _swscale_rgb(picture: Picture, color: Conversion) -> torch.Tensor:
    """swscale's float RGB of a whole picture (``(3, H, W)``)."""
    rgb = picture.to_frame().reformat(format="gbrpf32le", src_colorspace=color.matrix,
                                      src_color_range=color.range)
    g, b, r = Picture.from_frame(rgb).planes
    return torch.from_numpy(np.stack([r, g, b]))


def _full_chroma(picture: Picture) -> Picture:
    """A subsampled YUV picture as 4:4:4 of its depth, each chroma sample repeated over its footprint."""
    held = picture.layout
    if held.shift == (0, 0):
        return picture
    sx, sy = held.shift
    name = picture.format.replace(f"yuv{ {(1, 1): '420', (1, 0): '422'}[held.shift]}", "yuv444")
    y, *chroma = picture.planes
    full = [c.repeat(1 << sy, 0).repeat(1 << sx, 1)[:HEIGHT, :WIDTH] for c in chroma]
    return Picture(name, (y, *full))


@pytest.mark.parametrize("name", ["yuv444p", "yuv444p10le", "yuv444p12le", "yuvj444p", "gbrp", "gbrp10le",
                                  "gbrp16le", "yuv422p10le", "yuv420p10le", "yuv420p"])
@pytest.mark.parametrize("color", [Conversion(matrix=1, range=1), Conversion(matrix=5, range=1),
                                   Conversion(matrix=9, range=2)])
def test_region_rgb_is_swscale_s_within_a_code_value_or_two(name: str, color: Conversion) -> None:
    """The matrix, range and depth as swscale has them (subsampled chroma: each sample over its
    footprint, compared with swscale on the 4:4:4 picture that repeats it so)."""
    picture = _random(name, seed=1)
    held = picture.layout
    if name.startswith("yuvj"):
        color = Conversion(matrix=color.matrix, range=2)
    box = align_box((5, 3, 31, 20), held, WIDTH, HEIGHT)
    x0, y0, x1, y1 = box
    mine = region_rgb(picture, box, color)
    theirs = _swscale_rgb(_full_chroma(picture), color)[:, y0:y1, x0:x1]
    assert mine.shape == (3, y1 - y0, x1 - x0)
    inside = (theirs > 0.01) & (theirs < 0.99)  # swscale clamps to [0, 1]: compare where neither does
    assert float((mine - theirs).abs()[inside].max()) * 255 <= 2.0


@pytest.mark.parametrize("name", [n for n in HELD if not n.startswith("yuvj")])
def test_samples_to_rgb_and_back_are_the_samples(name: str) -> None:
    """An aligned region to float RGB and back gives its own samples (chroma: each footprint's mean
    of a sample repeated over it), so a paste of the unchanged region changes nothing."""
    picture, color = _random(name), Conversion(matrix=1, range=1)
    held = picture.layout
    box = align_box((3, 2, WIDTH, HEIGHT), held, WIDTH, HEIGHT)
    rgb = region_rgb(picture, box, color)
    again = paste(picture, box, rgb, torch.ones(rgb.shape[1:]), color)
    for a, b in zip(again.planes, picture.planes, strict=True):
        difference = np.abs(a.astype(np.float64) - b)
        assert difference.max() <= (1e-5 if held.is_float else 0)
    assert len(rgb_samples(rgb, held, color)) == len(held.colour)


@pytest.mark.parametrize("name", ["yuv420p", "yuv422p10le", "yuva444p10le", "gbrp", "rgb24", "yuv410p", "gray"])
def test_paste_writes_only_under_the_matte(name: str) -> None:
    picture, color = _random(name), Conversion(matrix=1, range=2)
    held = picture.layout
    box = align_box((4, 4, 30, 19), held, WIDTH, HEIGHT)
    x0, y0, x1, y1 = box
    matte = torch.zeros(y1 - y0, x1 - x0)
    matte[5:9, 3:11] = torch.rand(4, 8) + 0.01
    white = torch.ones(3, y1 - y0, x1 - x0)
    pasted = paste(picture, box, white, matte, color)
    full = np.zeros((HEIGHT, WIDTH), bool)
    full[y0:y1, x0:x1] = matte.numpy() > 0
    for plane, (before, after) in enumerate(zip(picture.planes, pasted.planes, strict=True)):
        sx, sy = held.plane_shift(plane)
        # A sample is written where the matte touches its footprint (luma: its own pixel).
        touched = np.zeros(before.shape[:2], bool)
        for y, x in zip(*np.nonzero(full), strict=True):
            touched[y >> sy, x >> sx] = True
        if plane == held.alpha:
            touched[:] = False
        assert np.array_equal(before[~touched], after[~touched])
        if touched.any():
            assert not np.array_equal(before[touched], after[touched])
    assert paste(picture, box, white, torch.zeros_like(matte), color) is picture
