"""The insightface backend with a stand-in ``insightface`` module (the real one is an optional extra)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from vidswap.errors import WeightsError
from vidswap.faces.detect import DetectorConfig, create_detector


def _fake_insightface(monkeypatch, analysis_cls) -> None:
    package = types.ModuleType("insightface")
    app = types.ModuleType("insightface.app")
    app.FaceAnalysis = analysis_cls
    package.app = app
    monkeypatch.setitem(sys.modules, "insightface", package)
    monkeypatch.setitem(sys.modules, "insightface.app", app)


class TestInsightFaceDetector:
    def test_offline_names_pack_and_folder(self, monkeypatch, tmp_path) -> None:
        class Offline:
            def __init__(self, name, **kwargs):
                raise ConnectionError("Max retries exceeded with url: buffalo_l.zip")

        _fake_insightface(monkeypatch, Offline)
        config = DetectorConfig(backend="insightface", model_pack="buffalo_s", model_root=tmp_path)
        with pytest.raises(WeightsError) as info:
            create_detector(config)
        message = str(info.value)
        assert "buffalo_s" in message and str(tmp_path / "models" / "buffalo_s") in message
        assert "\n" not in message
        assert isinstance(info.value.__cause__, ConnectionError)

    def test_not_installed(self, monkeypatch) -> None:
        monkeypatch.setitem(sys.modules, "insightface", None)  # import fails
        monkeypatch.setitem(sys.modules, "insightface.app", None)
        with pytest.raises(WeightsError, match="pip install"):
            create_detector(DetectorConfig(backend="insightface"))

    def test_detections_mapped_back(self, monkeypatch) -> None:
        calls = {}

        class Scrfd:
            def prepare(self, ctx_id, **kwargs):
                calls["prepare"] = (ctx_id, kwargs)

            def detect(self, image, input_size):
                calls.setdefault("sizes", []).append((image.shape, input_size))
                boxes = np.array([[10, 20, 110, 140, 0.9]], np.float32)
                return boxes, np.tile(np.array([[40, 60]], np.float32), (1, 5, 1))

        class Analysis:
            def __init__(self, name, allowed_modules, providers, **kwargs):
                assert allowed_modules == ["detection"]
                self.models = {"detection": Scrfd()}

        _fake_insightface(monkeypatch, Analysis)
        detector = create_detector(DetectorConfig(backend="insightface", long_side=640))
        (faces,) = detector.detect([np.zeros((720, 1280, 3), np.uint8)])
        assert calls["prepare"][0] == -1
        assert calls["sizes"] == [((360, 640, 3), (640, 384))]
        assert faces[0].box == (20.0, 40.0, 220.0, 280.0)
        np.testing.assert_allclose(faces[0].landmarks, np.tile([80, 120], (5, 1)))
