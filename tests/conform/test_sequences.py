"""Image sequences as post uses them, judged by the oracle (Debian's ffmpeg, tests/oracle.py): DPX
10-bit, EXR half and float, 16-bit TIFF and PNG are read at their own depth and written back at it,
the plate's frame numbers are kept, and a gap in a sequence is refused by name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests import oracle
from tests.io.media import frame_image
from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo
from vidswap.cli import main
from vidswap.errors import InputError
from vidswap.io import media
from vidswap.io.probe import probe
from vidswap.io.sequence import ImageSequenceWriter, plate_number, read_image, read_native
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.runner import run_pipeline
from vidswap.pipeline.session import RunOptions

FIRST, FRAMES = 1001, 4

#: name -> (oracle codec, stored pix_fmt, encoder options, suffix, the oracle's native pix_fmt,
#: what probe reports: the in-memory layout and the stored depth).
PLATES = {
    "dpx10": ("dpx", "gbrp10le", (), ".dpx", "gbrp10le", "rgb48le", 10),
    "dpx12": ("dpx", "gbrp12le", (), ".dpx", "gbrp12le", "rgb48le", 12),
    "dpx16": ("dpx", "rgb48le", (), ".dpx", "rgb48le", "rgb48le", 16),
    "exr_half": ("exr", "gbrpf32le", ("-format", "half"), ".exr", "gbrpf32le", "rgbf32le", 16),
    "exr_float": ("exr", "gbrpf32le", ("-format", "float"), ".exr", "gbrpf32le", "rgbf32le", 32),
    "tiff16": ("tiff", "rgb48le", (), ".tif", "rgb48le", "rgb48le", 16),
    "tiff8": ("tiff", "rgb24", (), ".tif", "rgb24", "rgb24", 8),
    "png16": ("png", "rgb48le", (), ".png", "rgb48le", "rgb48le", 16),
    "png8": ("png", "rgb24", (), ".png", "rgb24", "rgb24", 8),
}


@pytest.fixture(scope="module")
def plates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One oracle-made sequence of each kind, numbered from 1001."""
    oracle.require_tools()
    folder = tmp_path_factory.mktemp("plates")
    made = {}
    for name, (codec, pix_fmt, options, suffix, *_) in PLATES.items():
        (folder / name).mkdir()
        made[name] = oracle.image_sequence(folder / name / f"plate.%04d{suffix}", codec, pix_fmt, first=FIRST,
                                           frames=FRAMES, options=options)
    return made


def _rgb(planes: list[np.ndarray], pix_fmt: str) -> np.ndarray:
    """The oracle's planes of one frame as (H, W, 3) RGB (gbrp* planes come G, B, R)."""
    if pix_fmt.startswith("gbrp"):
        green, blue, red = planes
        return np.stack([red, green, blue], axis=-1)
    (packed,) = planes
    return packed.reshape(packed.shape[0], -1, 3)


def _oracle_rgb(path: Path, pix_fmt: str) -> np.ndarray:
    return _rgb(oracle.planes(path, pix_fmt).frames[0], pix_fmt)


def _bits(pix_fmt: str) -> int:
    return {"gbrp10le": 10, "gbrp12le": 12}.get(pix_fmt, 16)


@pytest.mark.parametrize("name", sorted(PLATES))
def test_read_native_is_the_stored_samples(plates: dict[str, Path], name: str) -> None:
    native_fmt, layout, depth = PLATES[name][4:]
    info = probe(plates[name])
    assert (info.video.pix_fmt, info.video.bit_depth) == (layout, depth)
    assert [plate_number(info, i) for i in range(FRAMES)] == list(range(FIRST, FIRST + FRAMES))
    for path in info.sequence:
        got, want = read_native(path), _oracle_rgb(path, native_fmt)
        assert got.dtype == {"rgb24": np.uint8, "rgb48le": np.uint16, "rgbf32le": np.float32}[layout]
        if native_fmt in ("gbrp10le", "gbrp12le"):
            bits = _bits(native_fmt)
            assert np.array_equal(got >> (16 - bits), want)  # full scale, the top bits repeated below
            assert np.array_equal(got, (want << (16 - bits)) | (want >> (2 * bits - 16)))
        else:
            assert np.array_equal(got, want)
        assert read_image(path, orient=False).dtype == np.uint8


@pytest.mark.parametrize("name", sorted(PLATES))
def test_written_back_at_the_plates_depth_is_bit_identical(plates: dict[str, Path], name: str,
                                                           tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    native_fmt, suffix = PLATES[name][4], PLATES[name][3]
    info = probe(plates[name])
    pattern = tmp_path / f"out.%04d{suffix}"
    with caplog.at_level(logging.WARNING), ImageSequenceWriter(
            pattern, start_number=plate_number(info, 0), depth=info.video.bit_depth) as writer:
        for path in info.sequence:
            writer.write(read_native(path))
    assert not caplog.records
    assert [n for n, _ in media.sequence_files(pattern)] == list(range(FIRST, FIRST + FRAMES))
    for source in info.sequence:
        out = tmp_path / source.name.replace("plate", "out")
        assert oracle.video(out)["pix_fmt"] == oracle.video(source)["pix_fmt"]
        assert np.array_equal(_oracle_rgb(out, native_fmt), _oracle_rgb(source, native_fmt))
        if suffix == ".exr":
            assert oracle.exr_channel_types(out) == oracle.exr_channel_types(source)


def _random(dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "float16":
        return rng.uniform(-0.5, 4.0, (24, 40, 3)).astype(np.float16).astype(np.float32)
    if dtype == "float32":
        return rng.uniform(-0.5, 4.0, (24, 40, 3)).astype(np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, (24, 40, 3)).astype(dtype)


@pytest.mark.parametrize(
    ("suffix", "dtype", "depth", "pix_fmt", "expected"),
    [(".dpx", "uint16", 10, "gbrp10le", lambda a: a >> 6),
     (".dpx", "uint16", 12, "gbrp12le", lambda a: a >> 4),
     (".dpx", "uint16", None, "rgb48le", lambda a: a),
     (".dpx", "uint8", None, "rgb24", lambda a: a),
     (".tif", "uint16", None, "rgb48le", lambda a: a),
     (".tif", "uint8", None, "rgb24", lambda a: a),
     (".png", "uint16", None, "rgb48le", lambda a: a),
     (".png", "uint8", None, "rgb24", lambda a: a),
     (".exr", "float16", 16, "gbrpf32le", lambda a: a),
     (".exr", "float32", None, "gbrpf32le", lambda a: a),
     (".exr", "uint16", None, "gbrpf32le", lambda a: a.astype(np.float32) / np.float32(65535))],
)
def test_what_is_written_is_what_the_oracle_reads(tmp_path: Path, suffix: str, dtype: str, depth: int | None,
                                                  pix_fmt: str, expected: Callable[[np.ndarray], np.ndarray],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    image = _random(dtype)
    with caplog.at_level(logging.WARNING), ImageSequenceWriter(tmp_path / f"w.%04d{suffix}", start_number=FIRST,
                                                               depth=depth) as writer:
        path = writer.write(image)
    assert path == tmp_path / f"w.{FIRST}{suffix}" and not caplog.records
    assert np.array_equal(_oracle_rgb(path, pix_fmt), expected(image))
    if suffix == ".exr":
        assert set(oracle.exr_channel_types(path).values()) == {"half" if depth == 16 else "float"}


@pytest.mark.parametrize(("suffix", "dtype", "loss"),
                         [(".jpg", "uint16", "16-bit samples stored at 8 bits"),
                          (".dpx", "float32", "float samples stored as 16-bit integers"),
                          (".png", "float32", "float samples stored as 16-bit integers")])
def test_a_depth_the_format_cannot_hold_is_one_warning(tmp_path: Path, suffix: str, dtype: str, loss: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    image = np.clip(_random(dtype), 0, 1) if dtype == "float32" else _random(dtype)
    with caplog.at_level(logging.WARNING), ImageSequenceWriter(tmp_path / f"l.%04d{suffix}",
                                                               start_number=FIRST) as writer:
        for _ in range(3):
            writer.write(image)
    assert len(caplog.records) == 1
    assert f"l.{FIRST}{suffix}" in caplog.records[0].getMessage() and loss in caplog.records[0].getMessage()
    if dtype == "float32" and suffix != ".jpg":
        assert np.array_equal(_oracle_rgb(tmp_path / f"l.{FIRST}{suffix}", "rgb48le"),
                              np.rint(image * 65535).astype(np.uint16))


def test_a_gap_is_reported_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "gap"
    folder.mkdir()
    oracle.image_sequence(folder / "plate.%04d.dpx", "dpx", "gbrp10le", first=FIRST, frames=10)
    (folder / "plate.1005.dpx").unlink()
    with pytest.raises(InputError, match=r"plate\.%04d\.dpx: 1 of frames 1001-1010 missing \(first plate\.1005\.dpx"):
        probe(folder / "plate.%04d.dpx")
    for name in ("plate.1007.dpx", "plate.1008.dpx", "plate.1009.dpx"):
        (folder / name).unlink()
    result = CliRunner().invoke(main, ["probe", str(folder / "plate.####.dpx")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "4 of frames 1001-1010 missing" in lines[0]
    assert "plate.1005.dpx, plate.1007.dpx, plate.1008.dpx ..." in lines[0]
    pipeline = tmp_path / "gap.yaml"  # validate refuses it too, with the pipeline's line
    pipeline.write_text(f"version: 1\ninput: {{path: '{folder / 'plate.%04d.dpx'}', fps: 24}}\n"
                        "sources: {me: [me.png]}\noutput: out.mov\n")
    result = CliRunner().invoke(main, ["validate", str(pipeline)])
    assert result.exit_code == 1 and "4 of frames 1001-1010 missing" in result.output, result.output
    for number in (1005, 1007, 1008, 1009):
        (folder / f"plate.{number}.dpx").write_bytes((folder / "plate.1001.dpx").read_bytes())
    (folder / "plate.01001.dpx").write_bytes((folder / "plate.1001.dpx").read_bytes())
    for pattern in ("plate.%d.dpx", "plate.%04d.dpx"):  # 01001 is frame 1001 to both
        with pytest.raises(InputError, match=r"plate\.01001\.dpx and plate\.1001\.dpx are both frame 1001"):
            probe(folder / pattern)


def test_a_video_numbers_files_from_its_frame_index(tmp_path: Path) -> None:
    clip = oracle.h264_bframes_mp4(tmp_path / "clip.mp4", seconds=0.5)
    assert [plate_number(probe(clip), i) for i in (0, 7)] == [0, 7]


@pytest.fixture(scope="module")
def render_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("render")
    return {"tiny": make_tiny_model(folder / "tiny.safetensors"),
            "photo": write_photo(folder / "me.png", frame_image(3, 128, 128))}


# A frame range counts frame indices from 0, whatever the plate's numbers: frames 1-3 (inclusive) of a
# plate numbered from 1001 are its files 1002-1004, and the output keeps those numbers.
@pytest.mark.parametrize(("name", "frames", "numbers"), [("dpx10", None, range(FIRST, FIRST + FRAMES)),
                                                         ("exr_half", "1-3", range(FIRST + 1, FIRST + 4))])
def test_a_render_keeps_the_plate_numbers(plates: dict[str, Path], render_media: dict[str, Path], tmp_path: Path,
                                          name: str, frames: str | None, numbers: range) -> None:
    suffix = PLATES[name][3]
    out = tmp_path / f"sh010.%04d{suffix}"
    spec = pipeline_from_options({
        "input.path": str(plates[name]), "input.fps": "24", "sources.me": [str(render_media["photo"])],
        "output.sequence": str(out), "model.path": str(render_media["tiny"]), "model.batch_size": 2,
        **({"frames": frames} if frames else {})})
    summary = run_pipeline(spec, RunOptions(progress=False, detector=StubDetector()))
    assert summary.frames == len(numbers) and summary.faces_swapped == len(numbers)
    assert [n for n, _ in media.sequence_files(out)] == list(numbers)
    written = probe(out)
    assert (written.video.width, written.video.height) == (96, 64)
    assert oracle.video(media.sequence_path(out, numbers[0]))["codec_name"] == PLATES[name][0]
    assert written.video.rate == Fraction(24)


@pytest.mark.parametrize("name", ["dpx10", "exr_half", "exr_float", "tiff16"])
def test_a_render_is_the_plate_outside_the_matte(plates: dict[str, Path], render_media: dict[str, Path],
                                                 tmp_path: Path, name: str) -> None:
    """Sequence in, sequence out, at the plate's depth: every sample where the matte is 0 is the
    plate's, bit for bit (Debian's ffmpeg reads both in the plate's own format); under the matte
    the face changed; an EXR keeps its half or float channels."""
    suffix, native = PLATES[name][3], PLATES[name][4]
    out, matte = tmp_path / f"sh010.%04d{suffix}", tmp_path / "matte.%04d.png"
    spec = pipeline_from_options({
        "input.path": str(plates[name]), "input.fps": "24", "sources.me": [str(render_media["photo"])],
        "output.sequence": str(out), "matte": str(matte), "model.path": str(render_media["tiny"]),
        "model.batch_size": 2})
    run_pipeline(spec, RunOptions(progress=False, detector=StubDetector()))
    changed = 0
    for number in range(FIRST, FIRST + FRAMES):
        source = oracle.planes(media.sequence_path(plates[name], number), native).frames[0]
        rendered = oracle.planes(media.sequence_path(out, number), native).frames[0]
        alpha = oracle.planes(media.sequence_path(matte, number), "rgb24").frames[0][0][:, 0::3]
        assert oracle.video(media.sequence_path(out, number))["pix_fmt"] == oracle.video(
            media.sequence_path(plates[name], number))["pix_fmt"]
        for plane_in, plane_out in zip(source, rendered, strict=True):
            if plane_in.shape != alpha.shape:  # packed RGB (rgb48le): R, G, B of a pixel side by side
                plane_in, plane_out = (p.reshape(*alpha.shape, 3) for p in (plane_in, plane_out))
            outside = alpha == 0
            assert outside.any() and np.array_equal(plane_in[outside], plane_out[outside])
            changed += int(np.count_nonzero(plane_in[~outside] != plane_out[~outside]))
        if suffix == ".exr":
            assert set(oracle.exr_channel_types(media.sequence_path(out, number)).values()) == set(
                oracle.exr_channel_types(media.sequence_path(plates[name], number)).values())
    assert changed > 0


def test_the_command_line_takes_a_plate_with_its_rate(plates: dict[str, Path], render_media: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """`vidswap run plate.%04d.dpx --set input.fps=24` is a plan; without the rate, one line naming
    input.fps and exit 1."""
    command = ["run", str(plates["dpx10"]), "-s", str(render_media["photo"]), "-o", str(tmp_path / "out.mov"),
               "--dry-run"]
    planned = CliRunner().invoke(main, [*command, "--set", "input.fps=24"])
    assert planned.exit_code == 0, planned.output
    refused = CliRunner().invoke(main, command)
    assert refused.exit_code == 1 and refused.stderr.strip().count("\n") == 0 and "input.fps" in refused.stderr
    assert not (tmp_path / "out.mov").exists()
