"""Stage settings are declared once: the dataclass's bounds hold for YAML and for Python alike."""

from __future__ import annotations

import dataclasses

import pytest

from vidswap.errors import ConfigError, SpecError
from vidswap.faces.detect import DetectorConfig
from vidswap.faces.mask_config import MaskConfig
from vidswap.faces.smooth import SmootherConfig
from vidswap.pipeline import pipeline_from_options
from vidswap.settings import check_settings

#: section -> (its settings type, a value outside the bounds of each bounded field)
OUTSIDE = {
    "detector": (DetectorConfig, {"long_side": 9000, "score_threshold": 1.5, "nms_threshold": -0.1,
                                  "min_face_size": -1.0, "batch_size": 0, "backend": "nope"}),
    "smoothing": (SmootherConfig, {"lag": 121, "process_noise": 0.0, "measurement_noise": -1e-4}),
    "mask": (MaskConfig, {"scale": 0.0, "erosion": 0.5, "blur": -0.01, "shape": "square",
                          "colour_match": "hsv"}),
}
CASES = [(section, name, value) for section, (_, fields) in OUTSIDE.items() for name, value in fields.items()]


@pytest.mark.parametrize(("section", "name", "value"), CASES)
def test_python_refuses_naming_the_setting(section: str, name: str, value: object) -> None:
    config_type = OUTSIDE[section][0]
    with pytest.raises(ConfigError, match=f"^{section}.{name}: ") as raised:
        config_type(**{name: value})
    assert raised.value.setting == f"{section}.{name}"


@pytest.mark.parametrize(("section", "name", "value"), CASES)
def test_yaml_refuses_at_the_key(section: str, name: str, value: object, tmp_path) -> None:
    clip = tmp_path / "clip.mp4"
    photo = tmp_path / "me.png"
    clip.touch(), photo.touch()
    with pytest.raises(SpecError) as raised:
        pipeline_from_options({"input": str(clip), "sources.me": [str(photo)], "output.path": str(tmp_path / "o.mp4"),
                               f"{section}.{name}": value})
    assert any(f"{section}.{name}" in line for line in raised.value.problems), raised.value.problems


@pytest.mark.parametrize("config_type", [DetectorConfig, SmootherConfig, MaskConfig])
def test_defaults_are_inside_the_bounds(config_type: type) -> None:
    config = config_type()
    check_settings(config, "x")
    assert dataclasses.replace(config) == config and hash(config) == hash(config_type())
