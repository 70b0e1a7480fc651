"""The render pass's stages: align + swap (batched across frames), then composite.

Each stage is a generator over a stream (see :mod:`vidswap.pipeline.stages`), so the runner
joins them with bounded queues and they overlap in threads. :func:`swap_stage` gathers the
faces of consecutive frames until it holds a batch of crops, swaps them in one call, and
hands the frames on in their order; frames without a face to swap pass straight through
(they wait only for the frames before them), untouched.

Frames stay in their own pixel format, as stored: of a frame with faces only the region under
its faces' crops (:func:`face_box`) goes to float RGB on the swapper's device, the crops are
warped from it, and the composite blends there and writes back only the samples under the matte.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from vidswap.faces.align import AlignConfig, crop_from_frame, invert_affine, transform_points, warp_to_model_crop
from vidswap.faces.mask_config import MaskConfig
from vidswap.io.color import Conversion
from vidswap.io.planes import Box, align_box, paste, region_rgb
from vidswap.io.reader import NativeFrame
from vidswap.pipeline.analysis import FaceToSwap
from vidswap.pipeline.composite import Composited, DenseMasks, burn_watermark, composite_region, matte_codes
from vidswap.pipeline.swap import Swapper

if TYPE_CHECKING:
    from vidswap.pipeline.qc import RenderQC
    from vidswap.pipeline.turnover import TurnoverLayers

__all__ = ["SwappedCrops", "SwappedFrame", "face_box", "swap_stage", "composite_stage"]

# Pixels around a crop's footprint for the bilinear samples at its edge.
_MARGIN = 2


@dataclass(frozen=True, eq=False)
class SwappedCrops:
    """The swapped faces of one frame, on the swapper's device.

    Attributes:
        box: the region of the frame around the faces (:func:`face_box`), luma pixels.
        region: ``(3, h, w)`` float RGB in [0, 1] of that region.
        originals: ``(B, 3, S, S)`` aligned crops in [-1, 1].
        swapped: ``(B, 3, S, S)`` their swaps in [-1, 1].
        crop_from_region: ``(B, 2, 3)`` the crops' transforms from region pixels.
        landmarks: ``(B, 5, 2)`` the faces' landmarks in region pixels.
        occlusion: ``(B, 1, S, S)`` the refinement's occlusion estimate in [0, 1] (None: no
            refinement ran on these crops).
    """

    box: Box
    region: Tensor
    originals: Tensor
    swapped: Tensor
    crop_from_region: Tensor
    landmarks: Tensor
    occlusion: Tensor | None = None


@dataclass(frozen=True, eq=False)
class SwappedFrame:
    """A frame and its swapped faces.

    Attributes:
        frame: the decoded frame.
        faces: the faces swapped (empty: the frame passes through).
        crops: their crops and swaps (None without faces).
    """

    frame: NativeFrame
    faces: tuple[FaceToSwap, ...] = ()
    crops: SwappedCrops | None = None


@dataclass(frozen=True, eq=False)
class _Aligned:
    """A frame waiting in a swap batch, with its aligned crops when it has faces to swap."""

    frame: NativeFrame
    faces: tuple[FaceToSwap, ...]
    partial: SwappedCrops | None = None  # everything but the swaps (``swapped`` holds the originals)


def face_box(frame_from_crops: Sequence[tuple[Tensor, int]], width: int, height: int) -> Box:
    """The union of crops' footprints in a frame, with a margin for bilinear sampling, clipped to it.

    Args:
        frame_from_crops: ``((B, 2, 3) frame_from_crop, crop side)`` pairs: the crops sampled
            from the frame (the swap's, the dense landmark model's).
        width, height: the frame's size.

    Returns:
        ``(x0, y0, x1, y1)`` (empty when every crop lies outside the frame).
    """
    xs, ys = [], []
    for matrices, side in frame_from_crops:
        last = float(side - 1)
        corners = torch.tensor([[0.0, 0.0], [last, 0.0], [0.0, last], [last, last]], dtype=matrices.dtype,
                               device=matrices.device)
        points = transform_points(matrices, corners.expand(len(matrices), -1, -1)).reshape(-1, 2).cpu()
        xs += points[:, 0].tolist()
        ys += points[:, 1].tolist()
    x0, y0 = max(0, math.floor(min(xs)) - _MARGIN), max(0, math.floor(min(ys)) - _MARGIN)
    x1, y1 = min(width, math.ceil(max(xs)) + _MARGIN + 1), min(height, math.ceil(max(ys)) + _MARGIN + 1)
    return x0, y0, max(x0, x1), max(y0, y1)


def _align(frame: NativeFrame, faces: tuple[FaceToSwap, ...], align: AlignConfig, device: torch.device,
           color: Conversion, dense: bool) -> _Aligned:
    picture = frame.picture
    landmarks = torch.as_tensor(np.stack([f.landmarks for f in faces]), dtype=torch.float32, device=device)
    matrices = crop_from_frame(landmarks, align)
    footprints = [(invert_affine(matrices.double()), align.crop_size)]
    if dense:  # the dense landmark model's crops come from the region too
        from vidswap.faces.landmarks import INPUT_SIZE, roi_from_frame

        footprints.append((invert_affine(roi_from_frame(landmarks).double()), INPUT_SIZE))
    box = align_box(face_box(footprints, picture.width, picture.height), picture.layout, picture.width,
                    picture.height)
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:  # every face lies outside the frame: nothing to paste
        return _Aligned(frame, ())
    region = region_rgb(picture, box, color, device)
    origin = torch.tensor([float(x0), float(y0)], device=device, dtype=matrices.dtype)
    crop_from_region = matrices.clone()
    crop_from_region[:, :, 2] += matrices[:, :, :2] @ origin
    # The model sees [0, 1] (out-of-gamut YUV, float highlights clipped); the blend keeps them.
    crops = warp_to_model_crop((region.clamp(0, 1) * 255)[None].expand(len(faces), -1, -1, -1), crop_from_region,
                               align.crop_size)
    partial = SwappedCrops(box, region, crops, crops, crop_from_region, landmarks - origin)
    return _Aligned(frame, faces, partial)


def swap_stage(swapper: Swapper, faces: Mapping[int, tuple[FaceToSwap, ...]],
               identities: Mapping[str, Tensor], *, batch_size: int, color: Conversion,
               refine_at: Callable[[int], bool] | None = None, dense_at: Callable[[int], bool] | None = None,
               qc: RenderQC | None = None) -> Callable[[Iterator[NativeFrame]], Iterator[SwappedFrame]]:
    """The align + swap stage.

    Args:
        swapper: the swap model on its device.
        faces: frame index -> the faces to swap there (from the face pass), landmarks in the
            frames' stored pixels.
        identities: source name -> ``(c_id,)`` z_id.
        batch_size: crops per swap call (faces of several frames).
        color: the source's matrix and range.
        refine_at: whether the refinement (HEAR-Net) runs on a frame (frame-range overrides); None: always
            as the swapper was built.
        dense_at: whether a frame's mask is ``dense`` (its region then holds the dense landmark
            model's crops too); None: never.
        qc: measures the identity of each frame's swapped crops for the QC report, here, right
            after the swap: the identity encoder then never runs beside the swap model in
            another thread, so their working memory never adds up.

    Returns:
        A stage: frames in, :class:`SwappedFrame` out, same order.
    """
    align = AlignConfig(template=swapper.model.alignment, crop_size=swapper.model.crop_size)
    device = swapper.device

    def run(pending: list[_Aligned]) -> Iterator[SwappedFrame]:
        crops = [p.partial.originals for p in pending if p.partial is not None]
        y, occlusion = torch.zeros(0), None
        if crops:
            x_t = torch.cat(crops)
            z_id = torch.stack([identities[f.source] for p in pending for f in p.faces]).to(device)
            refine = refine_at is None or refine_at(pending[0].frame.index)
            swaps = [swapper(x_t[i:i + batch_size], z_id[i:i + batch_size], refine=refine)
                     for i in range(0, len(x_t), batch_size)]
            y = torch.cat([s.images for s in swaps])
            estimates = [s.occlusion for s in swaps if s.occlusion is not None]
            if len(estimates) == len(swaps):  # one refine setting per batch: all or none
                occlusion = torch.cat(estimates)
        start = 0
        for p in pending:
            if p.partial is None:
                yield SwappedFrame(p.frame)
                continue
            faces = slice(start, start + len(p.faces))
            if qc is not None:
                qc.swaps(p.frame.index, p.faces, y[faces])
            yield SwappedFrame(p.frame, p.faces, dataclasses.replace(
                p.partial, swapped=y[faces], occlusion=None if occlusion is None else occlusion[faces]))
            start += len(p.faces)

    def stage(frames: Iterator[NativeFrame]) -> Iterator[SwappedFrame]:
        pending: list[_Aligned] = []
        count = 0
        refine_key = None
        for frame in frames:
            fs = faces.get(frame.index, ())
            key = refine_at(frame.index) if refine_at is not None else None
            if pending and key != refine_key:
                yield from run(pending)
                pending, count = [], 0
            refine_key = key
            if not fs and not pending:
                yield SwappedFrame(frame)
                continue
            dense = dense_at is not None and dense_at(frame.index)
            pending.append(_align(frame, fs, align, device, color, dense) if fs else _Aligned(frame, fs))
            count += len(fs)
            if count >= batch_size:
                yield from run(pending)
                pending, count = [], 0
        if pending:
            yield from run(pending)

    return stage


def composite_stage(*, settings_at: Callable[[int], tuple[MaskConfig, bool]], color: Conversion, matte: bool,
                    dense: DenseMasks | None = None, qc: RenderQC | None = None,
                    layers: TurnoverLayers | None = None
                    ) -> Callable[[Iterator[SwappedFrame]], Iterator[tuple[NativeFrame, Composited]]]:
    """The composite stage.

    Args:
        settings_at: frame index -> ``(MaskConfig, watermark: bool)``.
        color: the source's matrix and range.
        matte: also produce each frame's matte (zeros for frames without a swapped face).
        dense: the dense landmarks, where a frame's mask is ``dense`` (steadied along each track).
        qc: measures each frame's matte for the QC report (its coverage, the contact sheet's
            thumbnails); needs ``matte``. The swap stage measures the identities.
        layers: writes each frame's turnover layer (the blended region and its soft matte).

    Returns:
        A stage: :class:`SwappedFrame` in, ``(frame, Composited)`` out, same order.
    """
    def stage(items: Iterator[SwappedFrame]) -> Iterator[tuple[NativeFrame, Composited]]:
        for item in items:
            mask, watermark = settings_at(item.frame.index)
            picture, crops = item.frame.picture, item.crops
            alpha = np.zeros((picture.height, picture.width), np.uint8) if matte else None
            rgb = soft = None
            if crops is not None:
                rgb, soft = composite_region(crops.region, crops.swapped, crops.originals, crops.crop_from_region,
                                             crops.landmarks, mask=mask, dense=dense,
                                             tracks=[f.track for f in item.faces], index=item.frame.index)
                picture = paste(picture, crops.box, rgb, soft, color)
                if alpha is not None:
                    x0, y0, x1, y1 = crops.box
                    alpha[y0:y1, x0:x1] = matte_codes(soft)
            if layers is not None:
                layers.add(item.frame.index, crops, rgb, soft)
            if watermark:
                picture = burn_watermark(picture, color)
            if qc is not None:
                qc.matte(item.frame.index, item.faces, alpha)
            yield item.frame, Composited(picture=picture, matte=alpha)

    return stage
