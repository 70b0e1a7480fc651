"""The face pass: a track suspended behind another face is not swapped there, and its landmarks are
smoothed per run, never across the suspension."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from tests.faces.test_track import CrossingDetector, crossing
from vidswap.io.probe import probe
from vidswap.io.sequence import ImageSequenceWriter
from vidswap.pipeline import load_pipeline
from vidswap.pipeline.analysis import analyse_faces
from vidswap.pipeline.schedule import Schedule

FRAMES = 31


def _schedule(folder: Path) -> Schedule:
    (folder / "anna.jpg").write_bytes(b"x")
    with ImageSequenceWriter(folder / "plate.%04d.png", start_number=0) as writer:
        for _ in range(FRAMES):
            writer.write(np.zeros((16, 16, 3), np.uint8))
    (folder / "pipe.yaml").write_text(textwrap.dedent("""\
        version: 1
        input: {path: plate.%04d.png, fps: 25}
        output: out.mp4
        sources:
          anna: [anna.jpg]
        """), encoding="utf-8")
    spec = load_pipeline(folder / "pipe.yaml")
    return Schedule.of(spec, probe(spec.input.path, rate=spec.input.fps))


def test_hidden_face_not_swapped_behind_the_front_face(tmp_path: Path) -> None:
    frames = ((i, np.full((4, 4, 3), i, np.uint8)) for i in range(FRAMES))
    detector = CrossingDetector(set(range(10, 21)), FRAMES)  # covered 12 to 18
    analysis = analyse_faces(frames, _schedule(tmp_path), detector_for=lambda _: detector, batch_size=4,
                             cuts=None)
    assert analysis.tracks == 2 and analysis.frames == FRAMES
    counts = [len(analysis.faces[i]) for i in range(FRAMES)]
    assert counts == [1 if 12 <= i <= 18 else 2 for i in range(FRAMES)]
    hidden = max(f.track for faces in analysis.faces.values() for f in faces)
    for i in (11, 19):  # either side of the suspension: on the face's straight path, not pulled across it
        (face,) = (f for f in analysis.faces[i] if f.track == hidden)
        truth = crossing(set(), FRAMES)[i][1].landmarks
        assert np.abs(face.landmarks - truth).max() < 0.5, i
