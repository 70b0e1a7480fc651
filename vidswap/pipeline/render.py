"""The render pass's stages: align + swap (batched across frames), then composite.

Each stage is a generator over a stream (see :mod:`vidswap.pipeline.stages`), so the runner
joins them with bounded queues and they overlap in threads. :func:`swap_stage` gathers the
faces of consecutive frames until it holds a batch of crops, swaps them in one call, and
hands the frames on in their order; frames without a face to swap pass straight through
(they wait only for the frames before them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vidswap.faces.align import AlignConfig, crop_from_frame, warp_to_model_crop
from vidswap.faces.mask_config import MaskConfig
from vidswap.io.reader import Frame
from vidswap.pipeline.analysis import FaceToSwap
from vidswap.pipeline.composite import Composited, DenseMasks, burn_watermark, composite_frame
from vidswap.pipeline.swap import Swapper

__all__ = ["SwappedCrops", "SwappedFrame", "swap_stage", "composite_stage"]


@dataclass(frozen=True, eq=False)
class SwappedCrops:
    """The swapped faces of one frame, on the swapper's device.

    Attributes:
        pixels: ``(3, H, W)`` uint8 RGB tensor of the frame.
        originals: ``(B, 3, S, S)`` aligned crops in [-1, 1].
        swapped: ``(B, 3, S, S)`` their swaps in [-1, 1].
        crop_from_frame: ``(B, 2, 3)`` the crops' transforms.
    """

    pixels: Tensor
    originals: Tensor
    swapped: Tensor
    crop_from_frame: Tensor


@dataclass(frozen=True, eq=False)
class SwappedFrame:
    """A frame and its swapped faces.

    Attributes:
        frame: the decoded frame.
        faces: the faces swapped (empty: the frame passes through).
        crops: their crops and swaps (None without faces).
    """

    frame: Frame
    faces: tuple[FaceToSwap, ...] = ()
    crops: SwappedCrops | None = None


@dataclass(frozen=True, eq=False)
class _Aligned:
    """A frame waiting in a swap batch, with its aligned crops when it has faces to swap."""

    frame: Frame
    faces: tuple[FaceToSwap, ...]
    pixels: Tensor | None = None
    crops: Tensor | None = None
    crop_from_frame: Tensor | None = None


def _align(frame: Frame, faces: tuple[FaceToSwap, ...], align: AlignConfig, device: torch.device) -> _Aligned:
    pixels = frame.tensor(device)
    landmarks = torch.as_tensor(np.stack([f.landmarks for f in faces]), dtype=torch.float32, device=device)
    matrices = crop_from_frame(landmarks, align)
    crops = warp_to_model_crop(pixels[None].expand(len(faces), -1, -1, -1), matrices, align.crop_size)
    return _Aligned(frame, faces, pixels, crops, matrices)


def swap_stage(swapper: Swapper, faces: Mapping[int, tuple[FaceToSwap, ...]],
               identities: Mapping[str, Tensor], *, batch_size: int,
               refine_at: Callable[[int], bool] | None = None
               ) -> Callable[[Iterator[Frame]], Iterator[SwappedFrame]]:
    """The align + swap stage.

    Args:
        swapper: the swap model on its device.
        faces: frame index -> the faces to swap there (from the face pass).
        identities: source name -> ``(c_id,)`` z_id.
        batch_size: crops per swap call (faces of several frames).
        refine_at: whether the refinement (HEAR-Net) runs on a frame (frame-range overrides); None: always
            as the swapper was built.

    Returns:
        A stage: frames in, :class:`SwappedFrame` out, same order.
    """
    align = AlignConfig(template=swapper.model.alignment, crop_size=swapper.model.crop_size)
    device = swapper.device

    def run(pending: list[_Aligned]) -> Iterator[SwappedFrame]:
        crops = [p.crops for p in pending if p.crops is not None]
        y = torch.zeros(0)
        if crops:
            x_t = torch.cat(crops)
            z_id = torch.stack([identities[f.source] for p in pending for f in p.faces]).to(device)
            refine = refine_at is None or refine_at(pending[0].frame.index)
            y = torch.cat([swapper(x_t[i:i + batch_size], z_id[i:i + batch_size], refine=refine)
                           for i in range(0, len(x_t), batch_size)])
        start = 0
        for p in pending:
            if p.pixels is None or p.crops is None or p.crop_from_frame is None:
                yield SwappedFrame(p.frame)
                continue
            swapped = y[start:start + len(p.faces)]
            yield SwappedFrame(p.frame, p.faces, SwappedCrops(p.pixels, p.crops, swapped, p.crop_from_frame))
            start += len(p.faces)

    def stage(frames: Iterator[Frame]) -> Iterator[SwappedFrame]:
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
            pending.append(_align(frame, fs, align, device) if fs else _Aligned(frame, fs))
            count += len(fs)
            if count >= batch_size:
                yield from run(pending)
                pending, count = [], 0
        if pending:
            yield from run(pending)

    return stage


def composite_stage(*, settings_at: Callable[[int], tuple[MaskConfig, bool]], matte: bool,
                    dense: DenseMasks | None = None
                    ) -> Callable[[Iterator[SwappedFrame]], Iterator[tuple[Frame, Composited]]]:
    """The composite stage.

    Args:
        settings_at: frame index -> ``(MaskConfig, watermark: bool)``.
        matte: also produce each frame's matte (zeros for frames without a swapped face).
        dense: the dense landmarks, where a frame's mask is ``dense`` (steadied along each track).

    Returns:
        A stage: :class:`SwappedFrame` in, ``(frame, Composited)`` out, same order.
    """
    def stage(items: Iterator[SwappedFrame]) -> Iterator[tuple[Frame, Composited]]:
        for item in items:
            mask, watermark = settings_at(item.frame.index)
            crops = item.crops
            if crops is not None:
                landmarks = torch.as_tensor(np.stack([f.landmarks for f in item.faces]), dtype=torch.float32,
                                            device=crops.crop_from_frame.device)
                done = composite_frame(crops.pixels, crops.swapped, crops.originals, crops.crop_from_frame,
                                       landmarks, mask=mask, matte=matte, dense=dense,
                                       tracks=[f.track for f in item.faces], index=item.frame.index)
            else:
                rgb = item.frame.rgb
                done = Composited(rgb=rgb, matte=np.zeros(rgb.shape[:2], np.uint8) if matte else None)
            if watermark:
                done = Composited(rgb=burn_watermark(done.rgb), matte=done.matte)
            yield item.frame, done

    return stage
