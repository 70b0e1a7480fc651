"""EncodeSettings checks and resolve_encode: codec choice, pixel formats that keep depth and chroma."""

from __future__ import annotations

import pytest

from vidswap.errors import ConfigError, MediaError
from vidswap.io.codecs import EncodeSettings, encoder_available, pixel_format_depth, resolve_encode


class TestEncodeSettings:
    @pytest.mark.parametrize(
        "kwargs",
        [{"codec": "divx"}, {"crf": 60}, {"bit_depth": 9}, {"codec": "prores_ks", "profile": "ultra"},
         {"codec": "dnxhd", "profile": "hq"}, {"profile": "hq"}, {"codec": "auto", "profile": "dnxhr_hq"},
         {"threads": -1}],
    )
    def test_exceptions(self, kwargs: dict) -> None:
        with pytest.raises(ConfigError):
            EncodeSettings(**kwargs)

    def test_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            EncodeSettings("libx264")  # type: ignore[misc]


class TestResolveEncode:
    @pytest.mark.parametrize(
        ("codec", "source", "pix_fmt"),
        [
            ("libx264", "yuv420p", "yuv420p"),
            ("libx264", "yuv420p10le", "yuv420p10le"),
            ("libx264", "yuvj420p", "yuv420p"),
            ("libx264", "yuv422p10le", "yuv422p10le"),
            ("libx265", "yuv420p10le", "yuv420p10le"),
            ("prores_ks", "yuv420p", "yuv422p10le"),
            ("prores_ks", "yuv444p", "yuv444p10le"),
            ("ffv1", "yuv444p", "yuv444p"),
            ("ffv1", "gray", "gray"),
            ("ffv1", "yuv420p10le", "yuv420p10le"),
            ("dnxhd", "yuv420p", "yuv422p"),
            ("dnxhd", "yuv422p10le", "yuv422p10le"),
            ("dnxhd", "yuv420p10le", "yuv422p10le"),
            ("dnxhd", "yuv422p12le", "yuv422p10le"),
            ("dnxhd", "yuv444p", "yuv444p10le"),
            ("dnxhd", "gbrp10le", "yuv444p10le"),
        ],
    )
    def test_keeps_depth_and_chroma(self, codec: str, source: str, pix_fmt: str) -> None:
        assert resolve_encode(EncodeSettings(codec=codec), source_pix_fmt=source).pix_fmt == pix_fmt

    def test_bit_depth_and_options(self) -> None:
        encode = resolve_encode(
            EncodeSettings(codec="libx264", bit_depth=10, crf=20, preset="fast"), source_pix_fmt="yuv420p"
        )
        assert encode.pix_fmt == "yuv420p10le" and pixel_format_depth(encode.pix_fmt) == 10
        assert encode.options == {"crf": "20", "preset": "fast"}
        assert (
            resolve_encode(EncodeSettings(codec="libx264"), source_pix_fmt="yuv420p").options["crf"] == "16"
        )
        assert resolve_encode(EncodeSettings(codec="prores_ks"), source_pix_fmt="yuv444p").options == {
            "profile": "4"
        }

    @pytest.mark.parametrize(
        ("codec", "source", "profile"),
        [
            ("prores_ks", "yuv420p", "3"),
            ("prores_ks", "yuv422p10le", "3"),
            ("prores_ks", "yuv444p10le", "4"),
            ("dnxhd", "yuv420p", "dnxhr_hq"),
            ("dnxhd", "yuv422p", "dnxhr_hq"),
            ("dnxhd", "yuv422p10le", "dnxhr_hqx"),
            ("dnxhd", "yuv444p", "dnxhr_444"),
            ("dnxhd", "yuv444p10le", "dnxhr_444"),
        ],
    )
    def test_default_profile_follows_depth_and_chroma(self, codec: str, source: str, profile: str) -> None:
        assert resolve_encode(EncodeSettings(codec=codec), source_pix_fmt=source).options == {"profile": profile}

    @pytest.mark.parametrize(
        ("kwargs", "source", "pix_fmt", "profile"),
        [
            ({"profile": "dnxhr_sq"}, "yuv422p10le", "yuv422p", "dnxhr_sq"),
            ({"profile": "dnxhr_444"}, "yuv420p", "yuv444p10le", "dnxhr_444"),
            ({"profile": "dnxhr_hqx"}, "yuv444p", "yuv422p10le", "dnxhr_hqx"),
            ({"bit_depth": 8}, "yuv444p10le", "yuv422p", "dnxhr_hq"),
            ({"bit_depth": 10}, "yuv420p", "yuv422p10le", "dnxhr_hqx"),
            ({"pix_fmt": "gbrp10le"}, "yuv420p", "gbrp10le", "dnxhr_444"),
        ],
    )
    def test_dnxhr_profile_and_pix_fmt_agree(self, kwargs: dict, source: str, pix_fmt: str, profile: str) -> None:
        encode = resolve_encode(EncodeSettings(codec="dnxhd", **kwargs), source_pix_fmt=source)
        assert (encode.pix_fmt, encode.options) == (pix_fmt, {"profile": profile})

    def test_dnxhr_refuses(self) -> None:
        with pytest.raises(ConfigError, match="dnxhr_hq takes pix_fmt yuv422p, not yuv422p10le") as info:
            resolve_encode(EncodeSettings(codec="dnxhd", profile="dnxhr_hq", pix_fmt="yuv422p10le"),
                           source_pix_fmt="yuv420p")
        assert info.value.setting == "encode.pix_fmt"
        with pytest.raises(MediaError, match="out.mov: dnxhd encodes frames of at least 256x120, the input's "
                                             "are 160x120") as error:
            resolve_encode(EncodeSettings(codec="dnxhd"), source_pix_fmt="yuv420p", size=(160, 120),
                           output="out.mov")
        assert error.value.setting == "encode.codec"
        with pytest.raises(MediaError, match="use .mov$"):
            resolve_encode(EncodeSettings(codec="dnxhd"), source_pix_fmt="yuv420p", container_codecs={"h264"})
        assert resolve_encode(EncodeSettings(codec="dnxhd"), source_pix_fmt="yuv420p", size=(256, 120)).codec == "dnxhd"

    def test_auto(self) -> None:
        encode = resolve_encode(EncodeSettings(codec="auto"), source_pix_fmt="yuv420p")
        assert encode.codec == ("h264_nvenc" if encoder_available("h264_nvenc") else "libx264")

    def test_exceptions(self) -> None:
        with pytest.raises(ConfigError, match="yuv420p"):
            resolve_encode(EncodeSettings(codec="prores_ks", pix_fmt="yuv420p"), source_pix_fmt="yuv420p")
        with pytest.raises(MediaError, match=".mov or .mkv"):
            resolve_encode(
                EncodeSettings(codec="prores_ks"), source_pix_fmt="yuv420p", container_codecs={"h264"}
            )
        if not encoder_available("h264_nvenc"):
            with pytest.raises(MediaError, match="NVIDIA"):
                resolve_encode(EncodeSettings(codec="h264_nvenc"), source_pix_fmt="yuv420p")


def test_encoder_available() -> None:
    assert encoder_available("libx264") and not encoder_available("no_such_encoder")
