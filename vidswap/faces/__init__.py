"""Faces: everything between a decoded frame and a 256² aligned crop, and back.

Modules, in pipeline order: ``detect`` (the Detector interface; backends ``yunet_onnx``,
``yunet_kornia``, ``insightface``), ``cuts`` (scene cuts), ``track`` (ids, gap filling, who is
swapped), ``smooth`` (fixed-lag landmark smoother), ``align`` (crops and transforms), ``mask``
and ``blend`` (paste back), ``analyze`` (detect -> track -> smooth for a run of frames).

Names are re-exported lazily so ``import vidswap.faces`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Face": "detect", "DetectorConfig": "detect", "Detector": "detect", "create_detector": "detect",
    "CutConfig": "cuts", "CutDetector": "cuts",
    "TrackerConfig": "track", "Tracker": "track", "Track": "track", "TrackedFace": "track",
    "track_faces": "track", "SelectConfig": "track", "Embedder": "track", "select_tracks": "track",
    "SmootherConfig": "smooth", "Smoother": "smooth", "smooth_landmarks": "smooth",
    "AlignConfig": "align", "Aligner": "align", "crop_from_frame": "align", "invert_affine": "align",
    "warp_to_crop": "align", "warp_to_model_crop": "align",
    "MaskConfig": "mask_config", "ColourMatch": "mask_config", "face_mask": "mask", "FaceMask": "mask",
    "paste_back": "blend", "match_colour": "blend", "Compositor": "blend",
    "AnalyzedFace": "analyze", "AnalyzedFrame": "analyze", "analyze": "analyze",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vidswap.faces' has no attribute {name!r}")
    return getattr(importlib.import_module(f"vidswap.faces.{_EXPORTS[name]}"), name)
