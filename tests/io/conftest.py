"""Fixtures for the I/O tests: generated clips, made once per session (they take a moment)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from tests.io.media import make_clip

#: name -> (file name, make_clip arguments): the generated media the tests copy and compare.
CLIPS: dict[str, tuple[str, dict]] = {
    "audio": ("audio.mp4", {}),
    "vfr": ("vfr.mp4", {"vfr": True, "frames": 30}),
    "rotated_tc": ("rotated.mov", {"rotation": 90, "timecode": "01:00:00:00", "rate": Fraction(24)}),
    "odd": ("odd.mp4", {"width": 641, "height": 361, "pix_fmt": "yuv444p", "frames": 12}),
    "ten_bit_mkv": ("ten_bit.mkv", {"pix_fmt": "yuv420p10le", "subtitles": True}),
    "hevc_mp4": ("hevc.mp4", {"codec": "libx265", "pix_fmt": "yuv420p10le", "subtitles": True}),
    "prores": (
        "prores.mov",
        {
            "codec": "prores_ks",
            "pix_fmt": "yuv422p10le",
            "color": (1, 1, 1, 1),
            "timecode": "00:59:59;28",
            "rate": Fraction(30000, 1001),
            "width": 96,
            "height": 64,
        },
    ),
    "hd_tagged": (
        "hd.mkv",
        {"color": (9, 14, 9, 1), "timecode": "10:00:00:00", "rate": Fraction(50), "frames": 30},
    ),
}


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every clip of :data:`CLIPS`, by name."""
    folder = tmp_path_factory.mktemp("clips")
    return {name: make_clip(folder / file, **kwargs) for name, (file, kwargs) in CLIPS.items()}
