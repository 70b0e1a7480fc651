"""``prepare``: photos → aligned crops + index, skipping small/blurry faces, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from vidswap.cli import main
from vidswap.errors import ConfigError, InputError
from vidswap.faces.detect import DetectorConfig, Face
from vidswap.train.data import FaceCrops, read_index
from vidswap.train.prepare import INPUTS_NAME, PrepareConfig, expand_inputs, prepare_dataset, sharpness


class FakeDetector:
    """One face with fixed landmarks per frame (a stand-in detector for unit tests)."""

    config = DetectorConfig()

    def __init__(self, size: float = 100.0) -> None:
        self.size = size
        self.calls = 0

    def detect(self, frames):
        self.calls += len(frames)
        lm = np.array([[80, 90], [120, 90], [100, 110], [85, 130], [115, 130]], dtype=np.float32)
        return [[Face(box=(10.0, 10.0, 10.0 + self.size, 10.0 + self.size), score=0.9, landmarks=lm)]
                for _ in frames]


def _photo(path: Path, *, smooth: bool = False) -> Path:
    rng = np.random.default_rng(0)
    if smooth:
        rgb = np.full((200, 200, 3), 128, np.uint8)
    else:
        rgb = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


class TestPrepareDataset:
    def test_crops_index_and_resume(self, tmp_path: Path) -> None:
        photos = tmp_path / "in" / "alice"
        photos.mkdir(parents=True)
        a = _photo(photos / "a.png")
        _photo(photos / "b.png")
        out = tmp_path / "ds"
        detector = FakeDetector()
        config = PrepareConfig(crop_size=64, person_from_folder=True)
        report = prepare_dataset([a], out, detector=detector, config=config)
        assert [r.crops for r in report.processed] == [1] and report.total_crops == 1
        report = prepare_dataset([tmp_path / "in"], out, detector=detector, config=config)
        assert report.already_done == (str(a.resolve()),)
        assert [Path(r.source).name for r in report.processed] == ["b.png"]
        assert detector.calls == 2  # a.png was not detected again
        entries = read_index(out)
        assert [e.person for e in entries] == ["alice", "alice"]
        assert FaceCrops(out, image_size=64)[0].shape == (3, 64, 64)

    def test_skips_small_and_blurry(self, tmp_path: Path) -> None:
        flat = _photo(tmp_path / "flat.png", smooth=True)
        report = prepare_dataset([flat], tmp_path / "ds", detector=FakeDetector(),
                                 config=PrepareConfig(crop_size=64))
        assert report.processed[0].blurry == 1 and report.total_crops == 0
        sharp = _photo(tmp_path / "sharp.png")
        report = prepare_dataset([sharp], tmp_path / "ds2", detector=FakeDetector(size=30),
                                 config=PrepareConfig(crop_size=64))
        assert report.processed[0].small == 1 and report.total_crops == 0

    def test_drops_index_lines_of_unfinished_inputs(self, tmp_path: Path) -> None:
        a = _photo(tmp_path / "a.png")
        out = tmp_path / "ds"
        prepare_dataset([a], out, detector=FakeDetector(), config=PrepareConfig(crop_size=64))
        (out / INPUTS_NAME).unlink()  # as if the run stopped before recording a.png as done
        report = prepare_dataset([a], out, detector=FakeDetector(), config=PrepareConfig(crop_size=64))
        assert report.total_crops == 1

    def test_bad_inputs(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="does not exist"):
            expand_inputs([tmp_path / "nope.jpg"])
        (tmp_path / "notes.txt").write_text("x")
        with pytest.raises(InputError, match="not a photo or video"):
            expand_inputs([tmp_path / "notes.txt"])
        with pytest.raises(ConfigError):
            PrepareConfig(every=0)


def test_sharpness_orders_blur() -> None:
    import cv2

    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert sharpness(cv2.GaussianBlur(rgb, (7, 7), 3)) < sharpness(rgb) / 10


def test_prepare_command_on_shared_photos(shared: Path, tmp_path: Path) -> None:
    photos = [shared / "media" / "photos" / name for name in ("obama.jpg", "biden.jpg")]
    for photo in photos:
        if not photo.is_file():
            pytest.skip(f"needs {photo} (shared test media)")
    out = tmp_path / "ds"
    runner = CliRunner()
    result = runner.invoke(main, ["prepare", str(photos[0]), "-o", str(out), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)
    assert first["total_crops"] == 1
    result = runner.invoke(main, ["prepare", *map(str, photos), "-o", str(out), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    second = json.loads(result.stdout)
    assert second["already_done"] == [str(photos[0].resolve())] and len(second["processed"]) == 1
    entries = read_index(out)
    assert len(entries) == second["total_crops"] == 2
    with Image.open(out / entries[0].crop) as crop:
        assert crop.size == (256, 256)
    # Landmarks are kept in source pixels, eyes left to right on screen.
    lm = np.array(entries[0].landmarks)
    assert lm[0, 0] < lm[1, 0] and entries[0].sharpness > 20


def test_video_uses_every_nth_frame(tmp_path: Path) -> None:
    import av

    path = tmp_path / "clip.mp4"
    rng = np.random.default_rng(2)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width = stream.height = 200
        stream.pix_fmt = "yuv420p"
        for _ in range(12):
            rgb = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    report = prepare_dataset([path], tmp_path / "ds", detector=FakeDetector(),
                             config=PrepareConfig(crop_size=64, every=5))
    assert report.processed[0].frames == 3
    assert [e.frame for e in read_index(tmp_path / "ds")] == [0, 5, 10]
