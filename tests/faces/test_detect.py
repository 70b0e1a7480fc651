"""Detection: the interface, YuNet decoding, mapping back to frame pixels, and real photos."""

from __future__ import annotations

import numpy as np
import pytest

from tests.faces.conftest import read_rgb
from vidswap.errors import ConfigError, InputError
from vidswap.faces.detect import DetectorConfig, RawDetections, create_detector, detect_resized, nms
from vidswap.faces.yunet_onnx import decode_yunet

#: photos of one person each (../shared/media/MANIFEST.md): every one must give a face.
ONE_PERSON = {
    "angelina_jolie": [f"deepface/img{i}.jpg" for i in (2, 4, 5, 6, 7, 10, 11)],
    "obama": ["obama.jpg", "obama2.jpg", "obama_partial_face.jpg"],
    "biden": ["biden.jpg", "biden2.jpg"],
}


class TestDetectorConfig:
    def test_defaults(self) -> None:
        config = DetectorConfig()
        assert config.backend == "yunet_onnx" and config.long_side == 640

    @pytest.mark.parametrize("kwargs", [{"backend": "nope"}, {"long_side": 10}, {"score_threshold": 1.5},
                                        {"nms_threshold": -0.1}, {"min_face_size": -1}, {"batch_size": 0}])
    def test_exceptions(self, kwargs) -> None:
        with pytest.raises(ConfigError):
            DetectorConfig(**kwargs)

    def test_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            DetectorConfig("yunet_onnx")  # type: ignore[misc]


class TestNms:
    def test_known_answer(self) -> None:
        boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]],
                         dtype=np.float32)
        scores = np.array([0.9, 0.8, 0.7, 0.95], dtype=np.float32)
        assert nms(boxes, scores, 0.5).tolist() == [3, 2]

    def test_empty(self) -> None:
        assert nms(np.zeros((0, 4)), np.zeros(0), 0.3).size == 0


class TestDecodeYunet:
    def test_one_cell_known_answer(self) -> None:
        height, width = 64, 96
        outputs = {}
        for s in (8, 16, 32):
            n = (height // s) * (width // s)
            for name, channels in (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)):
                outputs[f"{name}_{s}"] = np.zeros((1, n, channels), np.float32)
        # stride 16, row 2, col 3: centre offset (0.5, 0.25), size exp(1) * 16, landmarks at offsets k/10
        cols = width // 16
        idx = 2 * cols + 3
        outputs["cls_16"][0, idx] = 0.81
        outputs["obj_16"][0, idx] = 1.0
        outputs["bbox_16"][0, idx] = [0.5, 0.25, 1.0, 0.0]
        outputs["kps_16"][0, idx] = np.arange(10) / 10
        (result,) = decode_yunet(outputs, 1, height, width, 0.5, 0.3)
        cx, cy, w, h = (3.5) * 16, (2.25) * 16, np.e * 16, 16
        expected_box = [[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]]
        np.testing.assert_allclose(result.boxes, expected_box, rtol=1e-5)
        np.testing.assert_allclose(result.scores, [0.9], rtol=1e-5)
        expected = (np.arange(10).reshape(5, 2) / 10 + [3, 2]) * 16
        np.testing.assert_allclose(result.landmarks[0], expected, rtol=1e-5)


class TestDetectResized:
    def test_maps_back_and_filters(self) -> None:
        frames = [np.zeros((720, 1280, 3), np.uint8), np.zeros((100, 200, 3), np.uint8)]
        seen = []

        def run(images):
            seen.append([im.shape for im in images])
            return [RawDetections(boxes=np.array([[10, 10, 50, 50], [0, 0, 12, 12]], np.float32),
                                  scores=np.array([0.9, 0.95], np.float32),
                                  landmarks=np.full((2, 5, 2), 20, np.float32)) for _ in images]

        config = DetectorConfig(long_side=640, min_face_size=16)
        out = detect_resized(frames, config, run)
        assert sorted(seen) == [[(100, 200, 3)], [(360, 640, 3)]]
        assert [len(f) for f in out] == [2, 1]           # the 12 px face of the small frame is dropped
        assert out[0][0].score > out[0][1].score       # highest score first
        big = out[0][1]
        assert big.box == (20.0, 20.0, 100.0, 100.0)     # 1280 / 640 = 2
        np.testing.assert_allclose(big.landmarks, 40)
        assert out[1][0].box == (10.0, 10.0, 50.0, 50.0)  # not upscaled

    def test_rejects_bad_frames(self) -> None:
        with pytest.raises(InputError, match="uint8"):
            detect_resized([np.zeros((10, 10, 3), np.float32)], DetectorConfig(), lambda images: [])


def _detectors(request):
    backend = request.param
    if backend == "yunet_kornia":
        request.getfixturevalue("yunet_hub")
    return create_detector(DetectorConfig(backend=backend))


@pytest.fixture(scope="module", params=["yunet_onnx", "yunet_kornia"])
def detector(request):
    """Both YuNet backends (the kornia one with weights placed by ``yunet_hub``)."""
    return _detectors(request)


class TestRealPhotos:
    @pytest.mark.parametrize("person", sorted(ONE_PERSON))
    def test_every_photo_of_one_person(self, detector, photos, person) -> None:
        frames = [read_rgb(photos / name) for name in ONE_PERSON[person]]
        found = detector.detect(frames)
        assert all(len(faces) >= 1 for faces in found), [len(f) for f in found]
        for faces in found:  # landmarks in ArcFace order: eyes left to right, above the mouth
            lm = faces[0].landmarks
            assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0] and lm[:2, 1].mean() < lm[3:, 1].mean()

    def test_two_people(self, detector, photos) -> None:
        (faces,) = detector.detect([read_rgb(photos / "two_people.jpg")])
        assert len(faces) == 2

    def test_selfie_many_people(self, detector, photos) -> None:
        (faces,) = detector.detect([read_rgb(photos / "selfie_many_people.jpg")])
        assert len(faces) >= 4

    def test_landmarks_inside_boxes(self, detector, photos) -> None:
        for faces in detector.detect([read_rgb(photos / "group_friends_t1.jpg")]):
            for face in faces:
                x0, y0, x1, y1 = face.box
                assert np.all((face.landmarks >= [x0, y0]) & (face.landmarks <= [x1, y1]))


def test_backends_agree(photos, yunet_hub) -> None:
    """The ONNX and kornia YuNets find the same Obama within a few percent of the face size."""
    frame = read_rgb(photos / "obama.jpg")
    (a,), (b,) = (create_detector(DetectorConfig(backend=name)).detect([frame])[0]
                  for name in ("yunet_onnx", "yunet_kornia"))
    assert np.abs(a.landmarks - b.landmarks).max() < 0.1 * a.size
