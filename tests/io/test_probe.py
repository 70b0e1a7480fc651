"""probe(): what generated clips hold, and one clear error per kind of bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from tests.io.media import make_audio_only, make_truncated, make_unsupported_codec
from vidswap.errors import InputError, MediaError, VidswapError
from vidswap.io.probe import probe


class TestProbe:
    def test_plain_clip(self, clips: dict[str, Path]) -> None:
        info = probe(clips["audio"])
        video = info.video
        assert (video.width, video.height, video.frame_count, video.rate) == (64, 48, 24, Fraction(25))
        assert not video.vfr and video.rotation == 0 and video.bit_depth == 8
        assert info.timecode is None and len(info.audio) == 1 and info.audio[0].sample_rate == 48000
        assert info.duration == pytest.approx(0.96, abs=0.05)

    def test_vfr(self, clips: dict[str, Path]) -> None:
        info = probe(clips["vfr"])
        assert info.video.vfr and info.video.frame_count == 30

    def test_rotation_and_timecode(self, clips: dict[str, Path]) -> None:
        info = probe(clips["rotated_tc"])
        assert info.video.rotation == 90 and info.timecode == "01:00:00:00"
        assert info.timecode_rate == Fraction(24)

    def test_ten_bit_matroska(self, clips: dict[str, Path]) -> None:
        info = probe(clips["ten_bit_mkv"])
        # Matroska has no frame count in its header: counted from the packets.
        assert info.video.frame_count == 24 and info.video.bit_depth == 10
        assert [s.codec for s in info.subtitles] == ["srt"]

    def test_prores_colour(self, clips: dict[str, Path]) -> None:
        info = probe(clips["prores"])
        assert info.video.codec == "prores" and info.video.pix_fmt == "yuv422p10le"
        color = info.video.color
        assert (color.primaries, color.transfer, color.matrix, color.range) == (1, 1, 1, 1)
        assert info.timecode == "00:59:59;28" and info.video.rate == Fraction(30000, 1001)

    def test_to_dict(self, clips: dict[str, Path]) -> None:
        summary = probe(clips["hd_tagged"]).to_dict()
        assert summary["video"]["rate"] == "50" and summary["timecode"] == "10:00:00:00"
        assert summary["video"]["color"]["primaries"] == "bt2020"

    def test_image_sequence(self, tmp_path: Path) -> None:
        from tests.io.media import frame_image
        from vidswap.io.sequence import ImageSequenceWriter

        with ImageSequenceWriter(tmp_path / "s.%03d.png", start_number=7) as writer:
            for i in range(3):
                writer.write(frame_image(i, 20, 10))
        info = probe(tmp_path / "s.%03d.png", rate=Fraction(25))
        assert (info.video.width, info.video.height, info.video.frame_count) == (20, 10, 3)
        assert info.video.rate == 25 and len(info.sequence) == 3


def _missing(tmp: Path) -> Path:
    return tmp / "missing.mp4"


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.mp4"
    path.touch()
    return path


def _text(tmp: Path) -> Path:
    path = tmp / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    return path


BAD_INPUTS = {
    "missing": (_missing, InputError, "no such file"),
    "empty": (_empty, MediaError, "empty"),
    "text": (_text, MediaError, "not a media file"),
    "truncated": (lambda tmp: make_truncated(tmp / "cut.mp4"), MediaError, "truncated"),
    "audio_only": (lambda tmp: make_audio_only(tmp / "sound.mp4"), MediaError, "no video stream"),
    "unsupported": (
        lambda tmp: make_unsupported_codec(tmp / "odd.avi"),
        MediaError,
        "unsupported video codec",
    ),
    "folder": (lambda tmp: tmp, InputError, "is a folder"),
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input(kind: str, tmp_path: Path) -> None:
    make, error, match = BAD_INPUTS[kind]
    path = make(tmp_path)
    with pytest.raises(error, match=match) as caught:
        probe(path)
    message = str(caught.value)
    assert isinstance(caught.value, VidswapError)
    assert str(path) in message and "\n" not in message
