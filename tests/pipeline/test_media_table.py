"""vidswap.io.media is the one source of the media vocabulary: what the pipeline schema and
the CLI accept is what the reader and writers do, suffix by suffix and codec by codec."""

from __future__ import annotations

import textwrap
from fractions import Fraction
from pathlib import Path
from typing import get_args

import av
import click
import numpy as np
import pytest

from vidswap.cli.doctor import ENCODERS
from vidswap.cli.run import run
from vidswap.errors import ConfigError, SpecError
from vidswap.io import VideoReader, media
from vidswap.io.codecs import EncodeSettings, resolve_encode, video_encoder
from vidswap.io.sequence import ImageSequenceWriter
from vidswap.pipeline import load_pipeline
from vidswap.pipeline.spec import EncodeSpec


def _pipeline(folder: Path, input_text: str, output_text: str = "out/shot.mp4", encode: str = "") -> Path:
    for name in ("photos/anna.jpg",):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    (folder / "out").mkdir(exist_ok=True)
    path = folder / "pipe.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        input: {input_text}
        output: {output_text}
        sources:
          anna: [photos/anna.jpg]
        """) + encode, encoding="utf-8")
    return path


def _plate(pattern: Path, count: int = 3, start: int = 1001) -> list[np.ndarray]:
    pattern.parent.mkdir(parents=True, exist_ok=True)
    images = [np.full((16, 20, 3), 40 * i, np.uint8) for i in range(count)]
    with ImageSequenceWriter(pattern, start_number=start) as writer:
        for image in images:
            writer.write(image)
    return images


def test_cli_codec_choices_are_the_table() -> None:
    option = next(p for p in run.params if p.name == "codec")
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == media.CODEC_CHOICES
    profile = next(p for p in run.params if p.name == "profile")
    assert isinstance(profile.type, click.Choice) and tuple(profile.type.choices) == media.PROFILE_CHOICES
    crf = next(p for p in run.params if p.name == "crf")
    assert isinstance(crf.type, click.IntRange) and (crf.type.min, crf.type.max) == media.CRF_RANGE


def test_schema_choices_are_the_table() -> None:
    fields = EncodeSpec.model_fields
    assert get_args(fields["codec"].annotation) == media.CODEC_CHOICES
    assert fields["codec"].default == media.DEFAULT_CODEC == EncodeSettings().codec
    assert get_args(get_args(fields["profile"].annotation)[0]) == media.PROFILE_CHOICES == tuple(
        name for codec in media.VIDEO_CODECS.values() for name in codec.profiles)
    assert get_args(get_args(fields["bit_depth"].annotation)[0]) == media.BIT_DEPTHS
    assert set(media.VIDEO_CODECS) <= set(ENCODERS)


@pytest.mark.parametrize("name", sorted(media.VIDEO_CODECS))
def test_pipeline_and_library_share_defaults(name: str) -> None:
    spec, codec = EncodeSpec(codec=name), media.VIDEO_CODECS[name]
    assert (spec.crf, spec.preset) == (codec.crf, codec.preset)
    if name in ("libx264", "libx265"):
        options = resolve_encode(EncodeSettings(codec=name), source_pix_fmt="yuv420p").options
        assert options["preset"] == spec.preset and options["crf"] == str(spec.crf)


def _opens(codec: str, profile: str, pix_fmt: str, size: tuple[int, int]) -> bool:
    context = video_encoder(codec)
    (context.width, context.height), context.pix_fmt, context.time_base = size, pix_fmt, Fraction(1, 25)
    context.options = {"profile": profile}
    try:
        context.open()
    except av.FFmpegError:
        return False
    return True


@pytest.mark.parametrize("name", [name for name, codec in media.VIDEO_CODECS.items() if codec.profiles])
def test_profiles_open_as_the_table_says(name: str) -> None:
    """Each profile opens with its pixel formats at the smallest size; a pixel less is refused."""
    codec = media.VIDEO_CODECS[name]
    assert set(codec.default_profiles) <= set(codec.profiles)
    width, height = size = codec.min_size or (64, 64)
    formats = tuple(f.name for f in av.Codec(name, "w").video_formats or ())
    for profile in codec.profiles.values():
        for pix_fmt in profile.pix_fmts or formats:
            assert _opens(name, profile.option, pix_fmt, size), (profile, pix_fmt)
    if codec.min_size is not None:
        option = codec.profiles[codec.default_profiles[0]].option
        pix_fmt = codec.profiles[codec.default_profiles[0]].pix_fmts[0]
        assert not _opens(name, option, pix_fmt, (width - 2, height))
        assert not _opens(name, option, pix_fmt, (width, height - 1))


def test_readme_example_plate_validates_and_reads(tmp_path: Path) -> None:
    images = _plate(tmp_path / "plates" / "sh010.%04d.exr")
    spec = load_pipeline(_pipeline(tmp_path, "{path: plates/sh010.%04d.exr, fps: 24}"))
    assert spec.input.is_sequence
    with VideoReader(spec.input.path, rate=spec.input.fps) as reader:
        frames = list(reader)
    assert reader.info.video.rate == Fraction(24)
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(np.array_equal(f.rgb, image) for f, image in zip(frames, images, strict=True))


@pytest.mark.parametrize("suffix", sorted(media.IMAGE_SUFFIXES))
def test_validate_and_reader_agree_on_every_image_type(tmp_path: Path, suffix: str) -> None:
    _plate(tmp_path / "plates" / f"p.####{suffix}")
    spec = load_pipeline(_pipeline(tmp_path, f"{{path: plates/p.####{suffix}, fps: 25}}",
                                   f"{{path: out/s.mp4, sequence: out/s.%04d{suffix}}}"))
    with VideoReader(spec.input.path, rate=spec.input.fps) as reader:
        assert len(list(reader)) == 3
    assert spec.output.sequence is not None
    with ImageSequenceWriter(spec.output.sequence) as writer:
        assert writer.write(np.zeros((8, 8, 3), np.uint8)).is_file()


def test_validate_refuses_what_the_reader_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "plates").mkdir()
    (tmp_path / "plates" / "p.0001.gif").write_bytes(b"x")
    with pytest.raises(SpecError) as info:
        load_pipeline(_pipeline(tmp_path, "{path: plates/p.%04d.gif, fps: 24}"))
    assert "input.path: image sequences are" in info.value.problems[0]
    with pytest.raises(ConfigError):
        VideoReader(tmp_path / "plates" / "p.%04d.gif")
    with pytest.raises(SpecError) as info:
        load_pipeline(_pipeline(tmp_path, "plates/p.0001.gif", "{sequence: out/s.%04d.gif}"))
    assert "output.sequence: expected an image pattern" in info.value.problems[0]


@pytest.mark.parametrize("name", sorted(media.VIDEO_CODECS))
def test_validate_accepts_exactly_the_codec_containers(tmp_path: Path, name: str) -> None:
    (tmp_path / "shot.mov").write_bytes(b"x")
    for suffix in media.VIDEO_OUTPUT_SUFFIXES:
        path = _pipeline(tmp_path, "shot.mov", f"out/o{suffix}", f"encode: {{codec: {name}}}\n")
        if suffix in media.VIDEO_CODECS[name].containers:
            assert load_pipeline(path).encode.suits(Path(f"o{suffix}"))
        else:
            with pytest.raises(SpecError, match="cannot hold"):
                load_pipeline(path)


def test_unknown_pix_fmt_is_refused_at_validate(tmp_path: Path) -> None:
    (tmp_path / "shot.mov").write_bytes(b"x")
    with pytest.raises(SpecError, match="not an FFmpeg pixel format"):
        load_pipeline(_pipeline(tmp_path, "shot.mov", encode="encode: {pix_fmt: yuv9000p}\n"))
