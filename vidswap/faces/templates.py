"""The alignment templates: where the 5 landmarks go in an aligned crop, by alignment name.

Plain data (no torch), so the model config, the schema and the command line read the names
(:data:`ALIGNMENTS`) without loading the alignment code (:mod:`vidswap.faces.align`).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["TemplateMode", "ALIGNMENTS", "ARCFACE_TEMPLATE", "POSE_TEMPLATES"]

#: An alignment's name: ``arcface`` (the ArcFace template scaled to the crop) or
#: ``insightface-poses`` (the best of insightface's five pose templates, ghost's).
TemplateMode = Literal["arcface", "insightface-poses"]
#: Every alignment, in the order the command line lists them.
ALIGNMENTS: tuple[TemplateMode, ...] = get_args(TemplateMode)

#: ArcFace's 5 landmarks in its 112x112 crop: eyes, nose tip, mouth corners (left to right on screen).
ARCFACE_TEMPLATE = (
    (38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041),
)

#: insightface's five pose templates at 112x112: left profile, left, frontal, right, right profile.
POSE_TEMPLATES = (
    ((51.642, 50.115), (57.617, 49.990), (35.740, 69.007), (51.157, 89.050), (57.025, 89.702)),
    ((45.031, 50.118), (65.568, 50.872), (39.677, 68.111), (45.177, 86.190), (64.246, 86.758)),
    ((39.730, 51.138), (72.270, 51.138), (56.000, 68.493), (42.463, 87.010), (69.537, 87.010)),
    ((46.845, 50.872), (67.382, 50.118), (72.737, 68.111), (48.167, 86.758), (67.236, 86.190)),
    ((54.796, 49.990), (60.771, 50.115), (76.673, 69.007), (55.388, 89.702), (61.257, 89.050)),
)
