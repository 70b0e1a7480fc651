"""Native pixels, judged by the oracle (Debian's ffmpeg, planes in the file's own pixel format):
a lossless render keeps the input's pixel format, and every sample where the matte is 0 is the
input's, bit for bit (a chroma sample where the matte is 0 over its whole footprint), streaming
and as a job; under the matte the samples change, at the source's own bit depth.

Generated clips (tiny random model, stub detector): 8-bit H.264 4:2:0 with B-frames, 10-bit
ProRes 422 HQ, FFV1 4:4:4 and planar RGB, and an odd-sized 4:2:0 frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import oracle
from tests.io.media import frame_image
from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo
from vidswap.io.planes import layout
from vidswap.jobs.job import run_job
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.runner import run_pipeline
from vidswap.pipeline.session import RunOptions

SECONDS = 0.4  # 10-12 frames


def _ffv1(path: Path, pix_fmt: str, size: str = "160x120") -> Path:
    """testsrc2 in FFV1 (lossless) in ``pix_fmt``, with a tone, in Matroska."""
    oracle.ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={SECONDS}",
                  "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
                  "-c:v", "ffv1", "-pix_fmt", pix_fmt, "-c:a", "pcm_s16le", "-shortest", str(path))
    return path


# name -> (the clip in a folder, the planar format its planes are compared in: FFV1 stores 8-bit
# RGB as bgr0, whose planes are gbrp's).
CLIPS = {
    "h264-yuv420p": (lambda folder: oracle.h264_bframes_mp4(folder / "h264.mp4", seconds=SECONDS), "yuv420p"),
    "prores-yuv422p10le": (lambda folder: oracle.prores_hq_mov(folder / "prores.mov", seconds=SECONDS),
                           "yuv422p10le"),
    "ffv1-yuv444p": (lambda folder: _ffv1(folder / "yuv444p.mkv", "yuv444p"), "yuv444p"),
    "ffv1-rgb": (lambda folder: _ffv1(folder / "rgb.mkv", "gbrp"), "gbrp"),
    "ffv1-odd-yuv420p": (lambda folder: _ffv1(folder / "odd.mkv", "yuv420p", size="97x61"), "yuv420p"),
}


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    oracle.require_tools()
    folder = tmp_path_factory.mktemp("native")
    return {"tiny": make_tiny_model(folder / "tiny.safetensors"),
            "photo": write_photo(folder / "me.png", frame_image(3, 128, 128)), "folder": folder}


def _spec(assets: dict[str, Path], clip: Path, out: Path, **options):
    return pipeline_from_options({"input": str(clip), "sources.me": [str(assets["photo"])], "output.path": str(out),
                                  "model.path": str(assets["tiny"]), "model.batch_size": 4,
                                  "encode.codec": "ffv1", **options})


def _options() -> RunOptions:
    return RunOptions(progress=False, detector=StubDetector())


def _untouched(matte: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Where a plane of ``shape`` (a subsampled plane: each sample's footprint) has matte 0 throughout."""
    fy, fx = -(-matte.shape[0] // shape[0]), -(-matte.shape[1] // shape[1])
    padded = np.zeros((shape[0] * fy, shape[1] * fx), matte.dtype)
    padded[:matte.shape[0], :matte.shape[1]] = matte
    return padded.reshape(shape[0], fy, shape[1], fx).max(axis=(1, 3)) == 0


@pytest.mark.parametrize("name", list(CLIPS))
def test_a_lossless_render_is_the_input_outside_the_matte(assets: dict[str, Path], name: str) -> None:
    folder = assets["folder"] / name
    folder.mkdir()
    make, planar = CLIPS[name]
    clip = make(folder)
    pix_fmt = oracle.video(clip)["pix_fmt"]
    out, matte = folder / "out.mkv", folder / "matte.mkv"
    summary = run_pipeline(_spec(assets, clip, out, matte=str(matte)), _options())
    assert summary.faces_swapped == summary.frames > 8
    assert oracle.video(out)["pix_fmt"] == pix_fmt

    source, rendered = oracle.planes(clip, planar).frames, oracle.planes(out, planar).frames
    mattes = [frame[0] for frame in oracle.planes(matte, "gray").frames]
    assert len(source) == len(rendered) == len(mattes) == summary.frames
    depth = layout(planar).depth
    changed = []
    for before, after, alpha in zip(source, rendered, mattes, strict=True):
        assert (alpha == 0).mean() > 0.5 and (alpha == 255).any()
        for plane_in, plane_out in zip(before, after, strict=True):
            keep = _untouched(alpha, plane_in.shape)
            assert np.array_equal(plane_in[keep], plane_out[keep])
            if plane_in.shape == alpha.shape:  # full-resolution planes: what the face did there
                face = alpha == 255
                changed.append((plane_in[face] != plane_out[face]).mean())
                if depth > 8:  # no 8-bit values in 10-bit words
                    assert (plane_out[face] % 4 != 0).mean() > 0.5
    assert np.mean(changed) > 0.5

    job = folder / "job.mkv"
    run_job(_spec(assets, clip, job), folder / "job", segment_frames=4, options=_options())
    assert oracle.video(job)["pix_fmt"] == pix_fmt
    segmented = oracle.planes(job, planar).frames
    assert len(segmented) == len(rendered)
    for a, b in zip(segmented, rendered, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", list(CLIPS))
def test_pictures_are_the_oracle_s_planes(assets: dict[str, Path], name: str) -> None:
    """The render's reader decodes each frame to the samples ffmpeg decodes, as stored."""
    from vidswap.io.reader import VideoReader

    folder = assets["folder"] / f"read-{name}"
    folder.mkdir()
    make, planar = CLIPS[name]
    clip = make(folder)
    with VideoReader(clip) as reader:
        pictures = [frame.picture for frame in reader.pictures()]
    want = oracle.planes(clip, planar).frames
    assert len(pictures) == len(want) and all(p.format == planar for p in pictures)
    for picture, planes in zip(pictures, want, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(picture.planes, planes, strict=True))


def test_stored_points_are_the_same_pixels() -> None:
    """The face pass's upright landmarks land on the same pixels of the stored frame."""
    from vidswap.io.reader import stored_points, upright

    image = np.arange(5 * 7).reshape(5, 7)
    for rotation in (0, 90, 180, 270, -90):
        turned = upright(image, rotation)
        ys, xs = np.mgrid[0:turned.shape[0], 0:turned.shape[1]]
        points = np.stack([xs.ravel(), ys.ravel()], axis=-1)
        at = stored_points(points, rotation, width=7, height=5).astype(int)
        assert np.array_equal(image[at[:, 1], at[:, 0]], turned[ys.ravel(), xs.ravel()])


def test_a_lossy_encoder_is_fed_the_input_outside_the_matte(assets: dict[str, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With a lossy codec (libx264 on an 8-bit 4:2:0 source, so no conversion is asked for) the
    pictures the encoder gets are the input's samples where the matte is 0, in the input's own
    format: nothing is re-quantised before the encoder."""
    from vidswap.io.planes import Picture
    from vidswap.io.writer import VideoWriter

    folder = assets["folder"] / "lossy"
    folder.mkdir()
    clip = oracle.h264_bframes_mp4(folder / "h264.mp4", seconds=SECONDS)
    fed: dict[str, list[Picture]] = {}
    write = VideoWriter.write

    def capture(self: VideoWriter, pts: int, image: object) -> None:
        if isinstance(image, Picture):
            fed.setdefault(self.path.name, []).append(image)
        write(self, pts, image)  # type: ignore[arg-type]

    monkeypatch.setattr(VideoWriter, "write", capture)
    out, matte = folder / "out.mp4", folder / "matte.mkv"
    summary = run_pipeline(_spec(assets, clip, out, matte=str(matte), **{"encode.codec": "libx264"}), _options())
    pictures = fed["out.mp4"]
    source = oracle.planes(clip, "yuv420p").frames
    mattes = [frame[0] for frame in oracle.planes(matte, "gray").frames]
    assert len(pictures) == len(source) == len(mattes) == summary.frames
    assert oracle.video(out)["pix_fmt"] == "yuv420p"
    for picture, planes, alpha in zip(pictures, source, mattes, strict=True):
        assert picture.format == "yuv420p" and (alpha > 0).any()
        for plane_fed, plane_in in zip(picture.planes, planes, strict=True):
            keep = _untouched(alpha, plane_in.shape)
            assert np.array_equal(plane_fed[keep], plane_in[keep])
            assert not np.array_equal(plane_fed[~keep], plane_in[~keep])
