"""A VFX turnover: what a compositor needs to finish the swap in Nuke (or Fusion, Flame).

:class:`TurnoverLayers` is a collector the render's composite stage calls for every frame
(like the QC collector): it writes the swapped face as a full-frame premultiplied RGBA layer
whose alpha is the soft matte, and the matte on its own, one file per frame numbered with the
plate's own frame numbers (:func:`~vidswap.io.sequence.plate_number`), and, when the render
refines (HEAR-Net), the occlusion estimate the refinement used (:class:`~vidswap.models.family.Swap`),
warped into the frame like the face (0 where no face was refined). The layer's colour is
``rgb - plate * (1 - alpha)``, where ``rgb`` is what vidswap blended, so that ``plate * (1 - alpha)
+ layer`` (a premultiplied *over*) is vidswap's output; it is 0 outside the matte. Frames are as
stored (a rotation tag is not applied: the plate as a compositor's Read node sees it).

:func:`write_turnover` then writes the tracking data (the crop transforms and smoothed landmarks
of every face, as JSON and as CornerPin2D nodes), the Nuke script and the manifest
(:mod:`vidswap.turnover`). Layout under the turnover folder::

    layer/face.####.exr   premultiplied RGBA (alpha = matte)
    matte/matte.####.exr  the matte (one channel)
    occlusion/occlusion.####.exr  the refinement's occlusion estimate (one channel; only when it ran)
    tracking.json         per frame and face: crop_from_frame (2x3), landmarks (5x2), frame pixels
    tracking.nk           one CornerPin2D per track, crop -> frame, animated
    comp.nk               plate + layer -> Merge2 over -> Grade masked by the matte
    manifest.json         every file, the plate, the frame range, the weights and their licences
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidswap.io.layers import LAYER_FORMATS, LayerFormat, write_layer
from vidswap.io.media import sequence_path
from vidswap.io.sequence import plate_number
from vidswap.io.timecode import shift_timecode

if TYPE_CHECKING:
    from torch import Tensor

    from vidswap.faces.align import AlignConfig
    from vidswap.io.probe import MediaInfo
    from vidswap.io.ranges import FrameRange
    from vidswap.pipeline.analysis import FaceToSwap
    from vidswap.pipeline.render import SwappedCrops
    from vidswap.pipeline.session import RenderSession
    from vidswap.pipeline.spec import TurnoverSpec
    from vidswap.weights.cache import ResolvedWeights

__all__ = ["TurnoverLayers", "turnover_layers", "layer_patterns", "tracking_data", "write_turnover", "finish_turnover",
           "TRACKING_FILE", "MANIFEST_FILE", "COMP_FILE", "TRACKING_NK_FILE"]

log = logging.getLogger(__name__)

TRACKING_FILE = "tracking.json"
TRACKING_NK_FILE = "tracking.nk"
COMP_FILE = "comp.nk"
MANIFEST_FILE = "manifest.json"


def layer_patterns(folder: Path, info: MediaInfo, layer: LayerFormat) -> tuple[Path, Path, Path]:
    """The layer's, the matte's and the occlusion estimate's file patterns (``%0Nd``, N at least 4
    and enough for the plate's last number: the same for every segment of a job)."""
    digits = max(4, len(str(plate_number(info, max(0, info.video.frame_count - 1)))))
    return (folder / "layer" / f"face.%0{digits}d{layer.suffix}", folder / "matte" / f"matte.%0{digits}d{layer.suffix}",
            folder / "occlusion" / f"occlusion.%0{digits}d{layer.suffix}")


class TurnoverLayers:
    """Writes each rendered frame's layer and matte files (the composite stage calls :meth:`add`).

    Args:
        folder: the turnover folder (its ``layer``, ``matte`` and ``occlusion`` folders are made here).
        info: the probed input (frame numbers, size, timecode, rate).
        layer_format: a :data:`~vidswap.io.layers.LAYER_FORMATS` name.
        occlusion: the render refines, so every frame also gets an occlusion file.
    """

    def __init__(self, folder: Path, *, info: MediaInfo, layer_format: str, occlusion: bool = False) -> None:
        from vidswap.pipeline.session import PROVENANCE, provenance_tags

        self.layer = LAYER_FORMATS[layer_format]
        self.info = info
        self.comment = provenance_tags()[PROVENANCE]
        self.layer_pattern, self.matte_pattern, pattern = layer_patterns(folder, info, self.layer)
        self.occlusion_pattern = pattern if occlusion else None
        for made in (self.layer_pattern, self.matte_pattern, self.occlusion_pattern):
            if made is not None:
                made.parent.mkdir(parents=True, exist_ok=True)

    def paths(self, index: int) -> tuple[Path, Path]:
        """The layer and matte files of frame ``index`` (every turnover has them)."""
        number = plate_number(self.info, index)
        return sequence_path(self.layer_pattern, number), sequence_path(self.matte_pattern, number)

    def files(self, index: int) -> tuple[Path, ...]:
        """Every file of frame ``index``: its layer, matte and (when written) occlusion estimate."""
        extra = () if self.occlusion_pattern is None else (
            sequence_path(self.occlusion_pattern, plate_number(self.info, index)),)
        return (*self.paths(index), *extra)

    def add(self, index: int, crops: SwappedCrops | None, rgb: Tensor | None, soft: Tensor | None) -> None:
        """Write frame ``index``'s files: ``rgb`` the blended region of ``crops.box`` and ``soft`` its
        matte (None: no face, an empty layer)."""
        video = self.info.video
        rgba = np.zeros((video.height, video.width, 4), np.float32)
        occlusion = np.zeros((video.height, video.width), np.float32) if self.occlusion_pattern else None
        if crops is not None and rgb is not None and soft is not None:
            x0, y0, x1, y1 = crops.box
            premultiplied = rgb - crops.region * (1 - soft)  # exactly 0 where soft is 0 (rgb is the region)
            rgba[y0:y1, x0:x1, :3] = premultiplied.permute(1, 2, 0).float().cpu().numpy()
            rgba[y0:y1, x0:x1, 3] = soft.float().cpu().numpy()
            if occlusion is not None and crops.occlusion is not None:
                from vidswap.faces.align import invert_affine
                from vidswap.pipeline.composite import frame_matte

                region_from_crop = invert_affine(crops.crop_from_region.double()).float()
                occlusion[y0:y1, x0:x1] = frame_matte(crops.occlusion, region_from_crop,
                                                      (y1 - y0, x1 - x0)).float().cpu().numpy()
        timecode = (shift_timecode(self.info.timecode, index, self.info.timecode_rate)
                    if self.info.timecode is not None else None)
        samples = [rgba, np.ascontiguousarray(rgba[..., 3]), *(() if occlusion is None else (occlusion,))]
        for path, image in zip(self.files(index), samples, strict=True):
            write_layer(path, image, self.layer, rate=video.rate, timecode=timecode, comment=self.comment)

    def complete(self, frames: FrameRange) -> bool:
        """Whether every frame of ``frames`` has its files."""
        indices = range(frames.start, frames.start + frames.count)
        return all(path.is_file() for index in indices for path in self.files(index))


def turnover_layers(session: RenderSession, turnover: TurnoverSpec) -> TurnoverLayers:
    """The collector of a render made with ``session`` (an occlusion file per frame when its model refines)."""
    return TurnoverLayers(turnover.dir, info=session.info, layer_format=turnover.format,
                          occlusion=session.swapper.refines)


def tracking_data(faces: Mapping[int, tuple[FaceToSwap, ...]], frames: FrameRange, align: AlignConfig,
                  info: MediaInfo) -> dict[str, Any]:
    """Each face's crop transform (frame pixels -> crop pixels, as the render computes it from the
    smoothed landmarks) and landmarks, per frame of ``frames``, in stored frame pixels (pixel centres
    at integers, y down).

    ``faces`` are the render's: landmarks in stored pixels."""
    import torch

    from vidswap.faces.align import crop_from_frame

    rows = []
    for index in range(frames.start, frames.start + frames.count):
        found = faces.get(index, ())
        if not found:
            continue
        landmarks = torch.as_tensor(np.stack([f.landmarks for f in found]), dtype=torch.float32)
        matrices = crop_from_frame(landmarks, align)
        rows.append({"index": index, "frame": plate_number(info, index), "faces": [
            {"track": face.track, "source": face.source, "crop_from_frame": matrix.tolist(),
             "landmarks": np.asarray(face.landmarks, np.float64).tolist()}
            for face, matrix in zip(found, matrices.double().numpy(), strict=True)]})
    return {"crop_size": align.crop_size, "template": align.template, "width": info.video.width,
            "height": info.video.height, "pixels": "stored frame pixels, centres at integers, y down",
            "frames": rows}


def write_turnover(folder: Path, *, info: MediaInfo, frames: FrameRange, layers: TurnoverLayers,
                   faces: Mapping[int, tuple[FaceToSwap, ...]], align: AlignConfig,
                   weights: Sequence[ResolvedWeights], output: Path | None) -> Path:
    """Write the tracking data, the Nuke scripts and the manifest of a rendered turnover; returns
    the manifest's path."""
    from vidswap.turnover.manifest import turnover_manifest
    from vidswap.turnover.nuke import comp_script, tracking_script

    if info.video.rotation:
        log.warning("%s: the turnover is as stored, %d degrees from upright (the rotation tag is not applied)",
                    folder, info.video.rotation)
    if not layers.layer.float:
        log.warning("%s: %s files have no timecode or frame rate field: the turnover's files carry neither (EXR "
                    "does)", folder, layers.layer.suffix)
    if info.video.bit_depth > layers.layer.precision - 1:
        log.warning("%s: %d-bit plate, %d-bit layer samples: the layer over the plate is the output within a few "
                    "code values, not one (use turnover.format exr-float)", folder, info.video.bit_depth,
                    layers.layer.precision)
    tracking = tracking_data(faces, frames, align, info)
    first, last = plate_number(info, frames.start), plate_number(info, frames.start + frames.count - 1)
    (folder / TRACKING_FILE).write_text(json.dumps(tracking, indent=1))
    (folder / TRACKING_NK_FILE).write_text(tracking_script(tracking, first=first, last=last))
    (folder / COMP_FILE).write_text(comp_script(
        plate=info.path, plate_is_sequence=bool(info.sequence), plate_first=plate_number(info, 0),
        movie_frames=info.video.frame_count,
        layer=layers.layer_pattern, matte=layers.matte_pattern, occlusion=layers.occlusion_pattern,
        file_type=layers.layer.nuke, first=first, last=last,
        width=info.video.width, height=info.video.height, fps=info.video.rate))
    files = [layers.files(index) for index in range(frames.start, frames.start + frames.count)]
    manifest = turnover_manifest(folder, info=info, first=first, last=last, layer_pattern=layers.layer_pattern,
                                 matte_pattern=layers.matte_pattern, occlusion_pattern=layers.occlusion_pattern,
                                 frame_files=files, weights=weights,
                                 output=output, extra=[TRACKING_FILE, TRACKING_NK_FILE, COMP_FILE])
    path = folder / MANIFEST_FILE
    path.write_text(json.dumps(manifest, indent=1))
    return path


def finish_turnover(session: RenderSession, turnover: TurnoverSpec, faces: Mapping[int, tuple[FaceToSwap, ...]],
                    frames: FrameRange, output: Path | None) -> Path:
    """:func:`write_turnover` of a render made with ``session`` (its layers written); returns the manifest."""
    if any(settings.watermark for settings in session.schedule.variants()):
        log.warning("%s: the watermark is burnt into the output only, not into the layer: under the mark the "
                    "layer over the plate is not the output", turnover.dir)
    layers = turnover_layers(session, turnover)
    weights = session.files.all if session.files is not None else ()
    return write_turnover(turnover.dir, info=session.info, frames=frames, layers=layers,
                          faces=session.stored_faces(faces, frames), align=session.align, weights=weights,
                          output=output)
