"""Side by side masks on photos: the 5-point hull (the default) against the dense face oval.

One PNG per photo in ``--out``, one row per face (up to ``--faces``): the aligned crop, then the
crop under the ``hull`` mask, the ``dense`` mask, and the dense mask that keeps the target's
mouth interior and eyes (mask in green, the dense points as dots)::

    python -m benchmarks.dense_masks --photos ../shared/media/photos --out /tmp/masks

The landmark model comes from the weights cache (fetched on first use), or ``--model FILE``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from vidswap.faces.align import AlignConfig, crop_from_frame, transform_points, warp_to_crop
from vidswap.faces.detect import DetectorConfig, create_detector
from vidswap.faces.landmarks import DenseLandmarker
from vidswap.faces.mask import MaskConfig, face_mask
from vidswap.pipeline.composite import DenseMasks
from vidswap.weights.cache import CacheSettings
from vidswap.weights.manifest import load_manifest

SHAPES = (MaskConfig(), MaskConfig(shape="dense"), MaskConfig(shape="dense", keep_mouth=True, keep_eyes=True))


def _overlay(crop: np.ndarray, mask: np.ndarray, points: np.ndarray | None) -> np.ndarray:
    """``crop`` with ``mask`` tinted green (and ``points`` as dark dots)."""
    green = np.array([0, 255, 0], np.float32)
    out = crop.astype(np.float32) * (1 - 0.45 * mask[..., None]) + green * 0.45 * mask[..., None]
    out = out.round().clip(0, 255).astype(np.uint8)
    if points is not None:
        for x, y in points.round().astype(int):
            if 0 <= x < out.shape[1] and 0 <= y < out.shape[0]:
                out[y, x] = (20, 20, 120)
    return out


def compare(image: np.ndarray, detector, dense: DenseMasks, *, faces: int, size: int = 256) -> np.ndarray | None:
    """The comparison sheet of one RGB photo, or None when no face is found."""
    found = detector.detect([image])[0][:faces]
    if not found:
        return None
    landmarks = torch.as_tensor(np.stack([f.landmarks for f in found]), dtype=torch.float32)
    frame = torch.from_numpy(image).permute(2, 0, 1).contiguous()
    matrices = crop_from_frame(landmarks, AlignConfig(crop_size=size))
    crops = warp_to_crop((frame.float() / 127.5 - 1)[None].expand(len(found), -1, -1, -1), matrices, size)
    crops_rgb = ((crops + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    five = transform_points(matrices, landmarks)
    points = dense.crop_points(frame, matrices, landmarks, smoothing=0.0)
    rows = []
    for i in range(len(found)):
        panels = [crops_rgb[i]]
        for config in SHAPES:
            mask = face_mask((points if config.shape == "dense" else five)[i:i + 1], size, config)[0, 0].numpy()
            panels.append(_overlay(crops_rgb[i], mask, points[i].numpy() if config.shape == "dense" else None))
        rows.append(np.concatenate(panels, axis=1))
    return np.concatenate(rows, axis=0)


def main() -> None:
    import os

    import cv2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, help="face_landmark.tflite (default: the weights cache)")
    parser.add_argument("--faces", type=int, default=2, help="faces per photo")
    args = parser.parse_args()
    dense = (DenseMasks(DenseLandmarker(args.model)) if args.model else
             DenseMasks.open(cache=CacheSettings.from_environ(os.environ), manifest=load_manifest()))
    detector = create_detector(DetectorConfig())
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        sheet = compare(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), detector, dense, faces=args.faces)
        if sheet is not None:
            cv2.imwrite(str(args.out / f"{path.stem}.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
            print(args.out / f"{path.stem}.png")


if __name__ == "__main__":
    main()
