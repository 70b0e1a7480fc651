"""SCRFD detection + 5 landmarks from an insightface model pack (``buffalo_l`` by default).

insightface is an optional extra (``pip install vidswap[insightface]``) and is imported only
when this backend is built. Its ``FaceAnalysis`` downloads the pack on first use; offline that
fails, and the error here names the pack and the folder to unzip it into.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from vidswap.errors import WeightsError
from vidswap.faces.detect import DetectorConfig, Face, RawDetections, detect_resized

__all__ = ["InsightFaceDetector", "pack_folder"]

_RELEASES = "https://github.com/deepinsight/insightface/releases"


def pack_folder(config: DetectorConfig) -> str:
    """Where insightface looks for ``config.model_pack`` (``<root>/models/<pack>``)."""
    root = config.model_root if config.model_root is not None else os.path.join("~", ".insightface")
    return os.path.join(os.path.expanduser(root), "models", config.model_pack)


class InsightFaceDetector:
    """insightface's SCRFD detector from ``config.model_pack``.

    Raises:
        WeightsError: insightface is not installed, or the pack is missing and cannot be downloaded.
    """

    licence = "non-commercial research only (insightface model packs)"
    commercial = False

    def __init__(self, config: DetectorConfig, *, device: str = "cpu") -> None:
        try:
            from insightface.app import FaceAnalysis
        except ImportError as err:
            raise WeightsError("the insightface detector needs the 'insightface' package: "
                               "pip install 'vidswap[insightface]', or use detector.backend yunet_onnx") from err
        self.config = config
        kwargs = {"root": os.path.expanduser(config.model_root)} if config.model_root is not None else {}
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") \
            else ["CPUExecutionProvider"]
        try:
            app = FaceAnalysis(name=config.model_pack, allowed_modules=["detection"], providers=providers,
                               **kwargs)
        except OSError as err:  # ConnectionError and requests' errors are OSErrors
            raise WeightsError(
                f"insightface pack {config.model_pack!r} is not in {pack_folder(config)} and could not be "
                f"downloaded ({err}); download {config.model_pack}.zip from {_RELEASES} and unzip it into "
                f"{pack_folder(config)}") from err
        self._model = app.models["detection"]
        ctx_id = 0 if device.startswith("cuda") else -1
        # Half the score threshold here: detect_resized applies the real one after mapping back.
        self._model.prepare(ctx_id, input_size=(640, 640), det_thresh=config.score_threshold / 2,
                            nms_thresh=config.nms_threshold)

    def _run(self, images: list[np.ndarray]) -> list[RawDetections]:
        out = []
        height, width = images[0].shape[:2]
        size = (-(-width // 32) * 32, -(-height // 32) * 32)
        for image in images:  # SCRFD's detect takes one BGR image at a time
            boxes, kps = self._model.detect(np.ascontiguousarray(image[..., ::-1]), input_size=size)
            out.append(RawDetections(boxes=boxes[:, :4].astype(np.float32),
                                     scores=boxes[:, 4].astype(np.float32),
                                     landmarks=kps.reshape(-1, 5, 2).astype(np.float32)))
        return out

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        """Detect faces in ``H x W x 3`` uint8 RGB frames; faces per frame, highest score first."""
        return detect_resized(frames, self.config, self._run)
