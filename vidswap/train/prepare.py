"""``vidswap prepare``: detect and align the faces of photos and videos into a training dataset.

Each face becomes a ``crop_size``² PNG aligned exactly as inference aligns it (the model
config's ``alignment``: :func:`vidswap.faces.align.crop_from_frame`), listed in ``index.jsonl``
(:class:`~vidswap.train.data.IndexEntry`). Faces smaller than ``min_face_size`` or blurrier
than ``min_sharpness`` (variance of the Laplacian of the grey crop) are skipped. Every finished
input is recorded in ``inputs.jsonl``; a second run skips those, so an interrupted prepare
resumes where it stopped (crops of a half-done input are rewritten under the same names).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vidswap.errors import ConfigError, InputError
from vidswap.faces.align import AlignConfig, TemplateMode
from vidswap.faces.detect import Detector
from vidswap.io.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from vidswap.train.data import IndexEntry, append_index

__all__ = ["INPUTS_NAME", "PrepareConfig", "InputReport", "PrepareReport",
           "expand_inputs", "sharpness", "prepare_dataset"]

#: The record of finished inputs in a dataset folder (one JSON object per line).
INPUTS_NAME = "inputs.jsonl"


@dataclass(frozen=True, kw_only=True)
class PrepareConfig:
    """What ``prepare`` keeps and how it crops.

    Attributes:
        alignment: the model config's alignment (``arcface`` or ``insightface-poses``).
        crop_size: side of the saved crops (256, the model's input).
        min_face_size: skip faces smaller than this (detector box ``sqrt(w*h)``, source pixels).
        min_sharpness: skip crops whose variance of the Laplacian is lower (blurry faces).
        every: in videos, use every ``every``-th frame (neighbouring frames are near copies).
        person_from_folder: label each crop with the name of its input's parent folder.
    """

    alignment: TemplateMode = "arcface"
    crop_size: int = 256
    min_face_size: float = 64.0
    min_sharpness: float = 20.0
    every: int = 10
    person_from_folder: bool = False

    def __post_init__(self) -> None:
        AlignConfig(template=self.alignment, crop_size=self.crop_size)
        if self.min_face_size < 0 or self.min_sharpness < 0:
            raise ConfigError(f"min_face_size and min_sharpness must be >= 0, got {self.min_face_size}, "
                              f"{self.min_sharpness}")
        if self.every < 1:
            raise ConfigError(f"every (video frame step) must be >= 1, got {self.every}")


@dataclass(frozen=True, kw_only=True)
class InputReport:
    """What one input gave: frames looked at, crops kept, faces skipped as small or blurry."""

    source: str
    frames: int
    crops: int
    small: int
    blurry: int


@dataclass(frozen=True, kw_only=True)
class PrepareReport:
    """A prepare run: the inputs processed now, those skipped as already done, total crops."""

    processed: tuple[InputReport, ...]
    already_done: tuple[str, ...]
    total_crops: int


def expand_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Photos and videos named, folders searched recursively (sorted), resolved to absolute paths.

    Raises:
        InputError: a path does not exist, or a named file is neither a photo nor a video.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p.resolve() for p in path.rglob("*")
                          if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                raise InputError(f"{path}: not a photo or video by its extension; expected one of "
                                 f"{', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))}")
            out.append(path.resolve())
        else:
            raise InputError(f"input {path} does not exist")
    return list(dict.fromkeys(out))


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (``H x W x 3`` uint8 RGB): low means blurry."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _frames(path: Path, every: int) -> Iterator[tuple[int, np.ndarray]]:
    """(frame number, ``H x W x 3`` uint8 RGB) of a photo (frame 0) or every ``every``-th video frame."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # turned by its EXIF orientation
        if image is None:  # a type OpenCV does not read here (EXR, DPX): FFmpeg reads it
            from vidswap.io.sequence import read_image

            yield 0, read_image(path)
            return
        yield 0, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return
    from vidswap.io.reader import VideoReader

    with VideoReader(path, turn_upright=True) as reader:
        for frame in reader:
            if frame.index % every == 0:
                yield frame.index, frame.rgb


def _crops(rgb: np.ndarray, landmarks: np.ndarray, align: AlignConfig) -> np.ndarray:
    """Aligned crops ``N x S x S x 3`` uint8 of the faces with ``N x 5 x 2`` landmarks in ``rgb``."""
    import torch

    from vidswap.faces.align import crop_from_frame, warp_to_crop

    frame = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    matrix = crop_from_frame(torch.from_numpy(landmarks).double(), align).float()
    crops = warp_to_crop(frame.expand(len(landmarks), -1, -1, -1), matrix, align.crop_size)
    return crops.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def _read_done(folder: Path) -> set[str]:
    path = folder / INPUTS_NAME
    if not path.is_file():
        return set()
    done = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                done.add(json.loads(line)["source"])
            except (ValueError, KeyError, TypeError) as err:
                raise InputError(f"{path}:{number}: not a record of a finished input ({err}); delete the "
                                 "line to prepare that input again") from err
    return done


def _record_done(folder: Path, report: InputReport) -> None:
    with (folder / INPUTS_NAME).open("a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(report), sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _drop_unfinished(folder: Path, done: set[str]) -> None:
    """Remove index lines of inputs not recorded as finished (a run stopped between the two writes)."""
    from vidswap.train.data import INDEX_NAME, read_index

    entries = read_index(folder)
    kept = [e for e in entries if e.source in done]
    if len(kept) < len(entries):
        tmp = folder / f".{INDEX_NAME}.tmp"
        tmp.write_text("".join(e.to_json() + "\n" for e in kept), encoding="utf-8")
        os.replace(tmp, folder / INDEX_NAME)


def _prepare_input(path: Path, folder: Path, detector: Detector,
                   config: PrepareConfig) -> tuple[InputReport, list[IndexEntry]]:
    """Crop the faces of one input into ``folder``; returns its report and index entries."""
    from PIL import Image

    align = AlignConfig(template=config.alignment, crop_size=config.crop_size)
    tag = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    person = path.parent.name if config.person_from_folder else None
    frames = small = blurry = 0
    entries: list[IndexEntry] = []
    for index, rgb in _frames(path, config.every):
        frames += 1
        faces = detector.detect([rgb])[0]
        big = [f for f in faces if f.size >= config.min_face_size]
        small += len(faces) - len(big)
        if not big:
            continue
        landmarks = np.stack([f.landmarks for f in big]).astype(np.float64)
        for k, (crop, lm) in enumerate(zip(_crops(rgb, landmarks, align), landmarks, strict=True)):
            score = sharpness(crop)
            if score < config.min_sharpness:
                blurry += 1
                continue
            name = f"{path.stem}-{tag}-f{index:06d}-{k}.png"
            Image.fromarray(crop).save(folder / name)
            entries.append(IndexEntry(crop=name, source=str(path), frame=index, person=person,
                                      sharpness=score, landmarks=tuple((float(x), float(y)) for x, y in lm)))
    report = InputReport(source=str(path), frames=frames, crops=len(entries), small=small, blurry=blurry)
    return report, entries


def prepare_dataset(inputs: Sequence[str | Path], folder: str | Path, *, detector: Detector,
                    config: PrepareConfig = PrepareConfig(),
                    wrap: Callable[[list[Path]], Iterator[Path]] | None = None) -> PrepareReport:
    """Detect, align and save the faces of ``inputs`` into the dataset ``folder`` (resumable).

    Args:
        inputs: photos, videos or folders of them.
        folder: the dataset folder (created; an existing one is added to).
        detector: any :class:`~vidswap.faces.detect.Detector` (its own size and score thresholds
            apply first).
        config: alignment, crop size and the skip thresholds.
        wrap: wraps the list of inputs still to do, e.g. in a progress bar.

    Returns:
        What was done now and what was skipped as done before.

    Raises:
        InputError: an input is missing or not a photo/video; a record file is corrupt.
        MediaError: an input cannot be decoded.
    """
    from vidswap.train.data import read_index

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = expand_inputs(inputs)
    done = _read_done(folder)
    _drop_unfinished(folder, done)
    todo = [p for p in paths if str(p) not in done]
    reports = []
    for path in (wrap(todo) if wrap is not None else todo):
        report, entries = _prepare_input(path, folder, detector, config)
        append_index(folder, entries)
        _record_done(folder, report)
        reports.append(report)
    return PrepareReport(processed=tuple(reports),
                         already_done=tuple(str(p) for p in paths if str(p) in done),
                         total_crops=len(read_index(folder)))
