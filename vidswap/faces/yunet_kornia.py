"""YuNet through kornia (torch): the same detector family as the default, but GPU capable.

kornia's weights come through its download into the torch hub cache
(``$TORCH_HOME/hub/checkpoints/yunet_final.pth``). kornia's ``FaceDetector`` wants RGB in
[0, 255]; fed [0, 1] it returns confident garbage, so frames are converted here, never scaled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidswap.errors import DownloadError
from vidswap.faces.detect import DetectorConfig, Face, RawDetections, detect_resized

__all__ = ["YuNetKorniaDetector"]


class YuNetKorniaDetector:
    """kornia's YuNet on ``device``.

    Raises:
        DownloadError: the weights are not in the torch hub cache and cannot be downloaded.
    """

    licence = "MIT (YuNet, kornia's weights)"
    commercial = True

    def __init__(self, config: DetectorConfig, *, device: str = "cpu") -> None:
        import torch
        from kornia.contrib import FaceDetector

        self.config = config
        self._device = torch.device(device)
        try:
            # Half the score threshold here: detect_resized applies the real one after mapping back.
            model = FaceDetector(confidence_threshold=config.score_threshold / 2,
                                 nms_threshold=config.nms_threshold)
        except (OSError, RuntimeError) as err:
            hub = torch.hub.get_dir()
            raise DownloadError(f"kornia could not get YuNet's weights ({err}); put yunet_final.pth in "
                                f"{hub}/checkpoints or use detector.backend yunet_onnx (no download)") from err
        self._model = model.to(self._device).eval()

    def _run(self, images: list[np.ndarray]) -> list[RawDetections]:
        import torch

        batch = torch.from_numpy(np.stack(images)).to(self._device)
        # kornia's FaceDetector: (B, 3, H, W) RGB float in [0, 255].
        batch = batch.permute(0, 3, 1, 2).float()
        with torch.inference_mode():
            results = self._model(batch)
        out = []
        for dets in results:
            dets = dets.float().cpu().numpy()
            out.append(RawDetections(boxes=dets[:, :4], scores=dets[:, 14],
                                     landmarks=dets[:, 4:14].reshape(-1, 5, 2)))
        return out

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Face]]:
        """Detect faces in ``H x W x 3`` uint8 RGB frames; faces per frame, highest score first."""
        return detect_resized(frames, self.config, self._run)
