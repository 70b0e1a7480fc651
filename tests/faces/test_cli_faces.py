"""``vidswap faces``: JSON format, summary, overlay and errors (CliRunner)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from vidswap import cli


def flat_video(path: Path, frames: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    """A small flat-colour H.264 video (no faces) with 25 fps timestamps."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.full((size[1], size[0], 3), 10 * i, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def run(*args: str):
    return CliRunner().invoke(cli.main, ["faces", *args])


class TestFacesCommand:
    def test_video_json(self, tmp_path) -> None:
        result = run(str(flat_video(tmp_path / "flat.mp4")), "--json")
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert [f["index"] for f in doc["frames"]] == list(range(10))
        assert all(f["faces"] == [] for f in doc["frames"])
        pts = [f["pts"] for f in doc["frames"]]
        np.testing.assert_allclose(np.diff(pts), 0.04, atol=1e-6)

    def test_summary_and_overlay(self, tmp_path) -> None:
        video = flat_video(tmp_path / "flat.mp4")
        overlay = tmp_path / "overlay.mp4"
        result = run(str(video), "--overlay", str(overlay))
        assert result.exit_code == 0, result.output
        assert "10 frame(s), 0 track(s)" in result.stdout
        import av

        with av.open(str(overlay)) as container:
            assert sum(1 for _ in container.decode(video=0)) == 10
        again = run(str(video), "--overlay", str(overlay))
        assert again.exit_code == 1 and "--overwrite" in again.output
        assert run(str(video), "--overlay", str(overlay), "--overwrite").exit_code == 0

    def test_missing_and_undecodable(self, tmp_path) -> None:
        result = run(str(tmp_path / "nope.mp4"))
        assert result.exit_code == 1 and "no such file" in result.output
        junk = tmp_path / "junk.mp4"
        junk.write_bytes(b"not a video")
        result = run(str(junk))
        assert result.exit_code == 1 and "FFmpeg can read" in result.output

    def test_unknown_detector(self, tmp_path) -> None:
        result = run(str(tmp_path / "x.jpg"), "--detector", "dlib")
        assert result.exit_code == 1 and "dlib" in result.output

    def test_photo_json_format(self, photos, tmp_path) -> None:
        overlay = tmp_path / "overlay.png"
        result = run(str(photos / "two_people.jpg"), "--json", "--overlay", str(overlay))
        assert result.exit_code == 0, result.output
        (frame,) = json.loads(result.stdout)["frames"]
        assert frame["index"] == 0 and frame["pts"] is None and len(frame["faces"]) == 2
        for face in frame["faces"]:
            assert set(face) == {"track", "box", "score", "landmarks", "smoothed", "interpolated", "face"}
            assert len(face["box"]) == 4 and np.shape(face["landmarks"]) == (5, 2)
            assert face["smoothed"] == face["landmarks"] and face["interpolated"] is False
        assert {f["track"] for f in frame["faces"]} == {0, 1}
        # A photo's faces carry the number --source-face gives them: 0 = leftmost.
        assert [f["face"] for f in sorted(frame["faces"], key=lambda f: f["box"][0])] == [0, 1]
        assert overlay.is_file()

