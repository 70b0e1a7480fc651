"""vidswap run through the library API on generated clips (no ../shared needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.io.media import frame_image, make_clip, stream_packets
from tests.pipeline.run_helpers import StubDetector, decode, dilate, make_tiny_model, packet_pts, write_photo
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.runner import run_pipeline
from vidswap.pipeline.session import RunOptions

FRAMES = 10


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "shot.mp4", frames=FRAMES, width=128, height=96)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_photo(tmp_path_factory.mktemp("photo") / "me.png", frame_image(3, 128, 128))


def _spec(clip: Path, photo: Path, tiny: Path, out: Path, **options):
    return pipeline_from_options({"input": str(clip), "sources.me": [str(photo)], "output.path": str(out),
                                  "model.path": str(tiny), "model.batch_size": 3,
                                  # lossless x264 in MP4 (the source's yuv420p): exact pixels, the input's pts
                                  "encode.codec": "libx264", "encode.crf": 0, "encode.preset": "ultrafast",
                                  **options})


class TestFacelessClip:
    def test_frames_pass_through_and_no_face_is_reported(self, clip: Path, photo: Path, tiny: Path,
                                                          tmp_path: Path) -> None:
        out = tmp_path / "out.mp4"
        # The photo is run through the stub (it has no real face); the clip through YuNet, which finds none.
        from vidswap.faces.detect import DetectorConfig, create_detector

        spec = _spec(clip, photo, tiny, out)
        detector = create_detector(DetectorConfig())
        assert detector.detect([decode(clip)[0]]) == [[]]
        summary = run_pipeline(spec, RunOptions(progress=False, detector=_PhotoOnly(detector)))
        assert (summary.frames, summary.faces_swapped, summary.frames_without_face) == (FRAMES, 0, FRAMES)
        assert packet_pts(out) == packet_pts(clip)
        for got, want in zip(decode(out), decode(clip), strict=True):
            assert np.abs(got.astype(int) - want).max() <= 2  # RGB <-> YUV rounding only
        assert stream_packets(out, "audio") == stream_packets(clip, "audio")


class _PhotoOnly:
    """The stub for still photos (the source), the real detector for video frames."""

    def __init__(self, detector) -> None:
        self.config, self._real, self._stub = detector.config, detector, StubDetector()

    def detect(self, frames):
        if len(frames) == 1 and frames[0].shape[:2] == (128, 128):
            return self._stub.detect(frames)
        return self._real.detect(frames)


@pytest.fixture(scope="module")
def rendered(clip: Path, photo: Path, tiny: Path, tmp_path_factory: pytest.TempPathFactory):
    """A run with the stub detector: one face in every frame, with a matte."""
    folder = tmp_path_factory.mktemp("stub")
    out, matte = folder / "out.mp4", folder / "matte.mkv"
    detector = StubDetector()
    summary = run_pipeline(_spec(clip, photo, tiny, out, matte=str(matte)),
                           RunOptions(progress=False, detector=detector))
    return summary, out, matte, detector


class TestStubFaces:
    def test_summary(self, rendered) -> None:
        summary, out, _, detector = rendered
        assert (summary.frames, summary.faces_swapped, summary.frames_without_face) == (FRAMES, FRAMES, 0)
        assert summary.tracks == 1 and summary.output == out and summary.fps > 0
        assert detector.calls >= 1 + (FRAMES + 3) // 4  # batched: the photo, then 4 frames a call

    def test_timing_audio_and_provenance(self, rendered, clip: Path) -> None:
        import av

        _, out, matte, _ = rendered
        assert packet_pts(out) == packet_pts(clip) == packet_pts(matte)
        assert stream_packets(out, "audio") == stream_packets(clip, "audio")
        with av.open(str(out)) as container:
            assert "synthetic" in container.metadata.get("comment", "").lower()

    def test_only_the_face_region_changes(self, rendered, clip: Path) -> None:
        _, out, matte, _ = rendered
        for got, want, alpha in zip(decode(out), decode(clip), decode(matte), strict=True):
            assert alpha.max() == 255 and alpha.min() == 0
            outside = ~dilate(alpha > 0, 2)
            diff = np.abs(got.astype(int) - want)
            assert diff[outside].max() <= 2
            assert diff[alpha == 255].mean() > 5  # the random model's face differs visibly

    def test_watermark_and_no_refine(self, clip: Path, photo: Path, tiny: Path, tmp_path: Path, rendered) -> None:
        _, plain, _, _ = rendered
        out = tmp_path / "marked.mp4"
        run_pipeline(_spec(clip, photo, tiny, out, watermark=True, frames="2-4", **{"model.refine": False}),
                     RunOptions(progress=False, detector=StubDetector()))
        marked, reference = decode(out), decode(plain)[2:5]
        assert len(marked) == 3
        corner = (slice(-20, None), slice(0, 60))
        assert all(np.abs(m[corner].astype(int) - r[corner]).max() > 50 for m, r in zip(marked, reference, strict=True))
