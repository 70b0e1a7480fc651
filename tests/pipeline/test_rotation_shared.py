"""A rotated video (stored sideways with a rotate=90 tag, as a phone stores a video held sideways) is
analysed and swapped upright, and written back as stored with its tag, by a streaming run and by a
job: the render of the rotated clip is the render of the upright clip, turned. Built from the first
frames of a shared clip (skipped without ../shared)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.pipeline.run_helpers import decode, dilate, make_tiny_model
from vidswap.io.probe import probe
from vidswap.io.reader import stored, upright
from vidswap.io.sequence import read_image
from vidswap.jobs.job import run_job
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.runner import run_pipeline
from vidswap.pipeline.session import RenderSession, RunOptions

FRAMES = 8
OPTIONS = RunOptions(progress=False)


def write_lossless(path: Path, frames: list[np.ndarray], rotation: int) -> Path:
    """``frames`` as FFV1 4:4:4 with a display rotation tag (none for 0)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=Fraction(30))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv444p"
        if rotation:
            stream.set_display_rotation(rotation)
        for pts, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv444p")
            frame.pts = pts
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def clips(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The first frames of hamilton_short.mp4 (640x360): ``upright``, and ``rotated`` (stored
    360x640, turned clockwise, tagged rotate=90: shown upright), with a photo and a tiny model."""
    clip, photo = shared / "media/videos/hamilton_short.mp4", shared / "media/photos/obama.jpg"
    if not clip.is_file() or not photo.is_file():
        pytest.skip(f"needs {clip.name} and {photo.name} in {shared}/media (see MANIFEST.md)")
    folder = tmp_path_factory.mktemp("rotation")
    with av.open(str(clip)) as container:
        decoded = container.decode(video=0)
        frames = [next(decoded).to_ndarray(format="rgb24") for _ in range(FRAMES)]
    return {"upright": write_lossless(folder / "upright.mkv", frames, 0),
            "rotated": write_lossless(folder / "rotated.mkv", [stored(f, 90) for f in frames], 90),
            "photo": photo, "model": make_tiny_model(folder / "tiny.safetensors"), "folder": folder}


def spec(clips: dict[str, Path], clip: str, **outputs: str):
    return pipeline_from_options({"input": str(clips[clip]), "sources.me": [str(clips["photo"])],
                                  "model.path": str(clips["model"]), "detector.backend": "yunet_onnx",
                                  "encode.codec": "ffv1", "model.refine": False, **outputs})


def test_the_copy_is_stored_sideways(clips: dict[str, Path]) -> None:
    up, rotated = probe(clips["upright"]).video, probe(clips["rotated"]).video
    assert (up.width, up.height, up.rotation) == (640, 360, 0)
    assert (rotated.width, rotated.height, rotated.rotation) == (360, 640, 90)
    for a, b in zip(decode(clips["upright"]), decode(clips["rotated"]), strict=True):
        assert np.array_equal(upright(b, 90), a)


@pytest.mark.slow
def test_face_pass_sees_the_rotated_clip_upright(clips: dict[str, Path]) -> None:
    from vidswap.faces.detect import DetectorConfig, create_detector

    passes = {}
    for clip in ("upright", "rotated"):
        session = RenderSession(spec(clips, clip, **{"output.path": str(clips["folder"] / "unused.mkv")}), OPTIONS)
        passes[clip] = session.face_pass({})
    assert sorted(passes["rotated"].faces) == sorted(passes["upright"].faces) == list(range(FRAMES))
    for index, faces in passes["upright"].faces.items():
        assert len(passes["rotated"].faces[index]) == len(faces)
    # As stored, the faces lie sideways: the detector finds them in fewer frames (here none).
    sideways = create_detector(DetectorConfig(backend="yunet_onnx")).detect(decode(clips["rotated"]))
    assert sum(1 for faces in sideways if faces) < FRAMES


@pytest.mark.slow
def test_streaming_run_and_job_write_the_stored_orientation(clips: dict[str, Path]) -> None:
    folder = clips["folder"]
    (folder / "seq").mkdir()
    rotated = spec(clips, "rotated", **{"output.path": str(folder / "out.mkv"), "matte": str(folder / "matte.mkv"),
                                        "output.sequence": str(folder / "seq" / "f.%04d.png")})
    summary = run_pipeline(rotated, OPTIONS)
    run_pipeline(spec(clips, "upright", **{"output.path": str(folder / "up.mkv")}), OPTIONS)
    assert summary.faces_swapped >= FRAMES

    for output in ("out.mkv", "matte.mkv"):
        video = probe(folder / output).video
        assert (video.width, video.height, video.rotation) == (360, 640, 90), output
    out, matte, source = decode(folder / "out.mkv"), decode(folder / "matte.mkv"), decode(clips["rotated"])
    for got, want, alpha in zip(out, source, matte, strict=True):
        diff = np.abs(got.astype(int) - want)
        assert diff[~dilate(alpha > 0, 2)].max() <= 2  # only RGB<->YUV rounding outside the faces
        assert diff[alpha == 255].mean() > 10  # the face is swapped
    # The render of the rotated clip is the render of the upright clip, turned to be stored (up to
    # float rounding: the rotated clip's crops are sampled from its stored pixels).
    for got, want in zip(out, decode(folder / "up.mkv"), strict=True):
        diff = np.abs(upright(got, 90).astype(int) - want)
        assert diff.max() <= 2 and diff.mean() < 0.01, (diff.max(), diff.mean())
    # An image sequence has no rotation tag: its files are upright.
    files = sorted((folder / "seq").iterdir())
    assert len(files) == FRAMES
    for file, got in zip(files, out, strict=True):
        assert np.abs(read_image(file).astype(int) - upright(got, 90)).max() <= 2

    job = run_job(spec(clips, "rotated", **{"output.path": str(folder / "job.mkv")}), folder / "job",
                  segment_frames=3, options=OPTIONS)
    assert job.faces_swapped == summary.faces_swapped
    video = probe(folder / "job.mkv").video
    assert (video.width, video.height, video.rotation) == (360, 640, 90)
    assert all(np.array_equal(a, b) for a, b in zip(decode(folder / "job.mkv"), out, strict=True))
