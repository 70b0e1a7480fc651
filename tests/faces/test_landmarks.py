"""Dense landmarks: MediaPipe's face mesh on shared photos, fetched as users fetch it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.faces.conftest import read_rgb
from tests.landmark_model import face_landmark_model  # noqa: F401 (a fixture)
from vidswap.errors import WeightsError
from vidswap.faces.landmarks import POINTS, DenseLandmarker, roi_from_frame

#: Mesh points that correspond to the detector's 5: eye corners (centre), nose tip, mouth corners.
FIVE = ((33, 133), (362, 263), (1,), (61,), (291,))


@pytest.fixture(scope="module")
def landmarker(face_landmark_model: Path) -> DenseLandmarker:  # noqa: F811
    return DenseLandmarker(face_landmark_model)


def _faces(image: np.ndarray) -> torch.Tensor:
    from vidswap.faces.detect import DetectorConfig, create_detector

    found = create_detector(DetectorConfig()).detect([image])[0]
    return torch.as_tensor(np.stack([f.landmarks for f in found]), dtype=torch.float32)


def _as_five(points: torch.Tensor) -> torch.Tensor:
    return torch.stack([points[:, list(group)].mean(dim=1) for group in FIVE], dim=1)


def _frame(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


class TestDenseLandmarker:
    @pytest.mark.parametrize("name", ["obama.jpg", "kate_siegel.jpg", "group_obama_biden.jpg"])
    def test_points_agree_with_the_detector(self, landmarker: DenseLandmarker, photos: Path, name: str) -> None:
        image = read_rgb(photos / name)
        five = _faces(image)
        points = landmarker.from_frame(_frame(image), five)
        assert points.shape == (len(five), POINTS, 2) and points.dtype == torch.float32
        eyes = (five[:, 0] - five[:, 1]).norm(dim=-1)
        error = (_as_five(points) - five).norm(dim=-1).mean(dim=1) / eyes
        assert bool((error < 0.25).all()), error
        # The oval encloses the 5 landmarks: every mesh point within a face-sized box around them.
        centre = five.mean(dim=1, keepdim=True)
        assert bool(((points - centre).norm(dim=-1) < 3 * eyes[:, None]).all())

    def test_batch_equals_one_by_one_and_faces_score(self, landmarker: DenseLandmarker, photos: Path) -> None:
        image = read_rgb(photos / "group_obama_biden.jpg")
        five = _faces(image)
        assert len(five) >= 2
        together = landmarker.from_frame(_frame(image), five)
        alone = torch.cat([landmarker.from_frame(_frame(image), five[i:i + 1]) for i in range(len(five))])
        assert torch.allclose(together, alone, atol=1e-3)
        crops = np.zeros((2, 192, 192, 3), np.float32)
        points, scores = landmarker(crops)
        assert points.shape == (2, POINTS, 3) and scores.shape == (2,)
        assert landmarker(np.zeros((0, 192, 192, 3), np.float32))[0].shape == (0, POINTS, 3)

    def test_rolled_head_gives_the_same_points(self, landmarker: DenseLandmarker, photos: Path) -> None:
        import cv2

        image = read_rgb(photos / "obama.jpg")
        five = _faces(image)[:1]
        height, width = image.shape[:2]
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), 30, 1.0)
        rolled = cv2.warpAffine(image, turn, (width, height), flags=cv2.INTER_LINEAR)
        matrix = torch.tensor(turn, dtype=torch.float32)[None]
        rolled_five = five @ matrix[:, :, :2].transpose(1, 2) + matrix[:, None, :, 2]
        upright = landmarker.from_frame(_frame(image), five)
        back = landmarker.from_frame(_frame(rolled), rolled_five)
        unturned = (back - matrix[:, None, :, 2]) @ torch.linalg.inv(matrix[:, :, :2]).transpose(1, 2)
        eyes = (five[0, 0] - five[0, 1]).norm()
        assert (unturned - upright).norm(dim=-1).median() < 0.05 * eyes

    def test_crop_is_upright(self) -> None:
        five = torch.tensor([[[100.0, 100.0], [140.0, 100.0], [120.0, 120.0], [105.0, 140.0], [135.0, 140.0]]])
        angle = math.radians(40)
        turn = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        rolled = roi_from_frame(five @ turn.T)
        # The rolled face's crop is the upright face's crop: the roll is undone.
        assert torch.allclose(rolled[0, :, :2] @ turn, roi_from_frame(five)[0, :, :2], atol=1e-4)

    def test_missing_model(self, tmp_path: Path) -> None:
        with pytest.raises(WeightsError, match="vidswap weights fetch mediapipe_face_landmark"):
            DenseLandmarker(tmp_path / "face_landmark.tflite")
        (tmp_path / "bad.tflite").write_bytes(b"not a model")
        with pytest.raises(WeightsError, match="not a TFLite model"):
            DenseLandmarker(tmp_path / "bad.tflite")
