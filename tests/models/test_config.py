"""FaceShifterConfig: presets, checks, JSON round trip, torch-free import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vidswap.errors import ConfigError
from vidswap.models.config import PRESETS, FaceShifterConfig


class TestFaceShifterConfig:
    @pytest.mark.parametrize("cfg", [*PRESETS.values(), FaceShifterConfig(
        aad_units=1, alignment="insightface-poses", id_normalized=False)])
    def test_json_round_trip(self, cfg: FaceShifterConfig) -> None:
        again = FaceShifterConfig.from_json(cfg.to_json())
        assert again == cfg and hash(again) == hash(cfg)

    def test_preset_overrides(self) -> None:
        cfg = FaceShifterConfig.preset("paper", aad_units=3)
        assert cfg.aad_units == 3 and cfg.encoder_channels == PRESETS["paper"].encoder_channels

    def test_paper_attribute_shapes_follow_the_spec(self) -> None:
        assert PRESETS["paper"].attribute_shapes == (
            (1024, 2, 2), (2048, 4, 4), (1024, 8, 8), (512, 16, 16), (256, 32, 32), (128, 64, 64),
            (64, 128, 128), (64, 256, 256))

    @pytest.mark.parametrize(("field", "value", "message"), [
        ("aad_units", 4, "aad_units"), ("aad_units", True, "aad_units"),
        ("encoder_channels", (32, 64), "encoder_channels"),
        ("generator_channels", (1,) * 7 + (0,), "generator"),
        ("alignment", "ffhq", "alignment"), ("identity_backbone", "r18", "identity_backbone"),
        ("id_normalized", "yes", "id_normalized"), ("disc_scales", 0, "disc_scales"),
    ])
    def test_invalid_values(self, field: str, value: object, message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            FaceShifterConfig(**{field: value})

    def test_refuses_unknown_keys_and_presets(self) -> None:
        with pytest.raises(ConfigError, match="image_side"):
            FaceShifterConfig.from_dict({"image_side": 128})
        with pytest.raises(ConfigError, match="huge"):
            FaceShifterConfig.preset("huge")
        with pytest.raises(ConfigError, match="JSON"):
            FaceShifterConfig.from_json("{not json")

    def test_keyword_only_and_frozen(self) -> None:
        with pytest.raises(TypeError):
            FaceShifterConfig((32,) * 7)  # type: ignore[misc]
        with pytest.raises(AttributeError):
            PRESETS["tiny"].aad_units = 3  # type: ignore[misc]

    def test_import_is_torch_free(self) -> None:
        code = "import sys, vidswap.models.config; print('torch' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "False"
