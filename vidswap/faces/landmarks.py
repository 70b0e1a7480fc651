"""Dense face landmarks: MediaPipe's face mesh model (468 points) on an upright crop of each face.

The model (``face_landmark.tflite``, Apache-2.0, the manifest entry :data:`LANDMARK_WEIGHTS`)
takes a 192x192 RGB crop in [0, 1] and gives 468 ``(x, y, z)`` points in that crop's pixels and
a face-presence logit. It runs with ``ai-edge-litert`` (no TensorFlow), about 2 ms a face on two
CPU cores. The crop is placed from the 5 detector landmarks by a similarity that puts them
where the model expects a face (:data:`ROI_TEMPLATE`), so it is upright whatever the head's roll.

Convention: frames ``(3, H, W)`` uint8 RGB tensors; 5-point landmarks ``(B, 5, 2)`` and dense
landmarks ``(B, 468, 2)`` ``(x, y)`` pixels of the frame they are given in.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidswap.errors import WeightsError
from vidswap.faces.templates import ARCFACE_TEMPLATE

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["LANDMARK_WEIGHTS", "LANDMARK_FILE", "INPUT_SIZE", "POINTS", "ROI_TEMPLATE", "DenseLandmarker",
           "roi_from_frame"]

#: The manifest entry that holds the model, and the model's file in it.
LANDMARK_WEIGHTS = "mediapipe_face_landmark"
LANDMARK_FILE = "face_landmark.tflite"
#: The model's input side (pixels) and number of points.
INPUT_SIZE = 192
POINTS = 468

#: Where the 5 landmarks go in the model's crop (fractions of its side): the ArcFace template
#: scaled by 0.7 about the centre and raised by 5% of the side, so forehead and chin fit with
#: the margin MediaPipe's own crop (the face box x 1.5) leaves. Chosen on 7 shared photos as the
#: framing where the model's eyes, nose tip and mouth corners agree best with the detector's
#: (mean 1.5% of the crop side, flat between 0.6 and 0.8).
ROI_TEMPLATE = tuple(((x / 112 - 0.5) * 0.7 + 0.5, (y / 112 - 0.5) * 0.7 + 0.45) for x, y in ARCFACE_TEMPLATE)


def roi_from_frame(landmarks: Tensor) -> Tensor:
    """``(B, 2, 3)`` maps from frame pixels to the model's crop pixels, from ``(B, 5, 2)`` landmarks."""
    import torch

    from vidswap.faces.align import estimate_similarity

    template = torch.tensor(ROI_TEMPLATE, dtype=torch.float64, device=landmarks.device) * INPUT_SIZE
    return estimate_similarity(landmarks.double(), template.expand(len(landmarks), -1, -1)).to(landmarks.dtype)


def _warp_region(frame: Tensor, matrix: Tensor) -> Tensor:
    """``(192, 192, 3)`` float crop in [0, 1] (black outside the frame) through the ``(2, 3)``
    frame-to-crop map; only the frame's pixels under the crop are converted to float."""
    import torch
    from kornia.geometry.transform import warp_affine

    from vidswap.faces.align import invert_affine, transform_points

    side = INPUT_SIZE - 1.0
    corners = torch.tensor([[[0.0, 0.0], [side, 0.0], [0.0, side], [side, side]]], device=matrix.device)
    box = transform_points(invert_affine(matrix[None].double()).float(), corners)[0]
    height, width = frame.shape[-2:]
    x0, y0 = (int(v) for v in (box.amin(dim=0).floor() - 1).clamp_min(0).tolist())
    x1 = min(int(box[:, 0].amax().ceil()) + 2, width)
    y1 = min(int(box[:, 1].amax().ceil()) + 2, height)
    if x1 <= x0 or y1 <= y0:  # the crop lies wholly outside the frame
        return torch.zeros(INPUT_SIZE, INPUT_SIZE, 3, device=frame.device)
    region = frame[:, y0:y1, x0:x1].float()[None] / 255
    shifted = matrix.clone()
    shifted[:, 2] += matrix[:, :2] @ torch.tensor([float(x0), float(y0)], device=matrix.device)
    crop = warp_affine(region, shifted[None].to(region.device), (INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                       padding_mode="zeros", align_corners=True)
    return crop[0].permute(1, 2, 0)


class DenseLandmarker:
    """The 468-point face mesh model, batched over faces.

    Args:
        model: the ``face_landmark.tflite`` file.
        threads: CPU threads the interpreter may use.

    Raises:
        WeightsError: the file is missing or is not a TFLite model.
    """

    def __init__(self, model: str | Path, *, threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        path = Path(model)
        if not path.is_file():
            raise WeightsError(f"the dense landmark model {path} does not exist; run "
                               f"`vidswap weights fetch {LANDMARK_WEIGHTS}`")
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        except ValueError as err:
            raise WeightsError(f"{path} is not a TFLite model: {err}") from err
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._points = next(o["index"] for o in outputs if int(np.prod(o["shape"])) == POINTS * 3)
        self._score = next(o["index"] for o in outputs if int(np.prod(o["shape"])) == 1)
        self._batch = 0

    def __call__(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks of faces on model crops.

        Args:
            crops: ``(B, 192, 192, 3)`` float32 RGB in [0, 1].

        Returns:
            ``(B, 468, 3)`` points (x, y in crop pixels, z relative depth in the same scale) and
            ``(B,)`` face-presence logits.
        """
        batch = len(crops)
        if batch == 0:
            return np.zeros((0, POINTS, 3), np.float32), np.zeros(0, np.float32)
        if batch != self._batch:  # one invoke for the whole batch
            self._interpreter.resize_tensor_input(self._input, [batch, INPUT_SIZE, INPUT_SIZE, 3])
            self._interpreter.allocate_tensors()
            self._batch = batch
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(crops, dtype=np.float32))
        self._interpreter.invoke()
        points = self._interpreter.get_tensor(self._points).reshape(batch, POINTS, 3)
        scores = self._interpreter.get_tensor(self._score).reshape(batch)
        return points.copy(), scores.copy()

    def from_frame(self, frame: Tensor, landmarks: Tensor) -> Tensor:
        """Dense landmarks of a frame's faces.

        Args:
            frame: ``(3, H, W)`` uint8 RGB.
            landmarks: ``(B, 5, 2)`` the faces' 5 landmarks in frame pixels.

        Returns:
            ``(B, 468, 2)`` float32 points in frame pixels, on ``landmarks``' device.
        """
        import torch

        from vidswap.faces.align import invert_affine, transform_points

        roi = roi_from_frame(landmarks.float())
        crops = torch.stack([_warp_region(frame, matrix) for matrix in roi])
        points, _ = self(crops.cpu().numpy())
        xy = torch.from_numpy(points[..., :2]).to(roi.device)
        return transform_points(invert_affine(roi.double()).float(), xy)
