"""Identities from photos: source z_id (mean over a person's photos) and target references.

A photo must show exactly one face, or name one with ``face: N``,
counted left to right. Faces are aligned the way the model was trained (its config's
``alignment``) and the swap model embeds the aligned crop (its own identity crop and encoder,
:meth:`~vidswap.models.family.SwapModel.embed`). The source identity is the mean direction of
the photos' embeddings, L2-normalised when the model's config says z_id is, else at their mean
norm (ghost's raw z_id).

Convention: frames ``(H, W, 3)`` uint8 RGB; landmarks ``(N, 5, 2)`` ``(x, y)`` frame pixels;
encoder crops RGB in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from vidswap.errors import NoFaceError

if TYPE_CHECKING:
    import torch

    from vidswap.faces.detect import Detector, Face
    from vidswap.models.family import SwapModel, SwapModelConfig
    from vidswap.pipeline.spec import PhotoRef

__all__ = ["left_to_right", "pick_face", "embed_faces", "photo_embeddings", "source_identity", "mean_identity"]


T = TypeVar("T")


def left_to_right(items: Sequence[T], box: Callable[[T], Sequence[float]]) -> list[T]:
    """The faces of one photo in the order ``face: N`` (``--source-face N``) counts them, 0 = the
    leftmost (``box`` gives an item's ``(x0, y0, x1, y1)``)."""
    return sorted(items, key=lambda item: box(item)[0])


def pick_face(faces: Sequence[Face], photo: PhotoRef) -> Face:
    """The face of ``photo`` to use: its only face, or face ``photo.face`` (left to right).

    Raises:
        NoFaceError: no face, several faces and no ``face`` index, or an index past the last.
    """
    if not faces:
        raise NoFaceError(f"{photo.path}: no face found; use a photo where the face is clearly visible "
                          f"(frontal, at least ~64 pixels wide)")
    ordered = left_to_right(faces, lambda f: f.box)
    if photo.face is None:
        if len(ordered) > 1:
            raise NoFaceError(f"{photo.path}: {len(ordered)} faces found, expected one; say which with "
                              f"face N of the photo (YAML: {{path: ..., face: N}}), 0 = leftmost", setting="face")
        return ordered[0]
    if photo.face >= len(ordered):
        raise NoFaceError(f"{photo.path}: face {photo.face} asked for, but only {len(ordered)} face(s) found "
                          f"(0 = leftmost)")
    return ordered[photo.face]


def embed_faces(frames: Sequence[np.ndarray], landmarks: np.ndarray, *, encoder: SwapModel,
                config: SwapModelConfig, device: str | torch.device = "cpu") -> torch.Tensor:
    """Raw identity embeddings of faces, one face per frame given.

    Args:
        frames: ``N`` frames, ``(H, W, 3)`` uint8 RGB.
        landmarks: ``(N, 5, 2)`` landmarks of one face in each frame.
        encoder: the swap model, whose ``embed`` takes the aligned crops.
        config: the model's config (alignment and crop size).
        device: where to compute.

    Returns:
        ``(N, D)`` float32 raw embeddings.
    """
    import torch

    from vidswap.faces.align import AlignConfig, crop_from_frame, warp_to_model_crop

    align = AlignConfig(template=config.alignment, crop_size=config.image_size)
    out = []
    with torch.no_grad():
        for frame, lm in zip(frames, landmarks, strict=True):
            pixels = torch.from_numpy(frame).permute(2, 0, 1)[None].to(device)
            matrix = crop_from_frame(torch.as_tensor(lm, dtype=torch.float32, device=device)[None], align)
            crop = warp_to_model_crop(pixels, matrix, align.crop_size)
            out.append(encoder.embed(crop).float())
    return torch.cat(out) if out else torch.zeros(0, config.c_id, device=device)


def photo_embeddings(photos: Sequence[PhotoRef], *, detector: Detector, encoder: SwapModel,
                     config: SwapModelConfig, device: str | torch.device = "cpu") -> torch.Tensor:
    """Raw embeddings of the chosen face of each photo.

    Returns:
        ``(len(photos), D)`` float32.

    Raises:
        NoFaceError: a photo without a face, or with several and no ``face`` index.
        MediaError: a photo that cannot be read.
    """
    from vidswap.io.sequence import read_image

    images = [read_image(photo.path) for photo in photos]
    faces = [pick_face(found, photo) for found, photo in zip(detector.detect(images), photos, strict=True)]
    landmarks = np.stack([face.landmarks for face in faces]) if faces else np.zeros((0, 5, 2), np.float32)
    return embed_faces(images, landmarks, encoder=encoder, config=config, device=device)


def source_identity(photos: Sequence[PhotoRef], *, detector: Detector, encoder: SwapModel,
                    config: SwapModelConfig, device: str | torch.device = "cpu") -> torch.Tensor:
    """z_id of a person from their photos, in the form the model was trained with.

    Returns:
        ``(c_id,)`` float32: :func:`mean_identity` of the photos' embeddings.
    """
    embeddings = photo_embeddings(photos, detector=detector, encoder=encoder, config=config, device=device)
    return mean_identity(embeddings, normalized=config.id_normalized)


def mean_identity(embeddings: torch.Tensor, *, normalized: bool) -> torch.Tensor:
    """One z_id from ``(N, D)`` embeddings of a person: the mean direction (each normalised, the
    mean normalised), of unit length when z_id is ``normalized``, else of the embeddings' mean norm.

    A raw mean would shrink as the photos disagree (to about 0.87 of the norm for 5 photos at
    pairwise cosine 0.7), and a raw-z_id generator (ghost's) is not scale-free; one photo gives
    its embedding unchanged.
    """
    import torch.nn.functional as F

    direction = F.normalize(F.normalize(embeddings, dim=-1).mean(dim=0), dim=-1)
    return direction if normalized else direction * embeddings.norm(dim=-1).mean()
