"""Helpers for the faces tests: real photos and video frames from ../shared/media."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def read_rgb(path: Path) -> np.ndarray:
    """A photo as H x W x 3 uint8 RGB."""
    import cv2

    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_video(path: Path, limit: int | None = None) -> list[np.ndarray]:
    """The first ``limit`` frames of a video as H x W x 3 uint8 RGB."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit is not None and len(frames) == limit:
                break
    return frames


@pytest.fixture(scope="session")
def photos(shared: Path) -> Path:
    """``../shared/media/photos``; skips when absent."""
    path = shared / "media" / "photos"
    if not path.is_dir():
        pytest.skip(f"needs the test photos at {path} (see ../shared/media/MANIFEST.md)")
    return path


@pytest.fixture(scope="session")
def videos(shared: Path) -> Path:
    """``../shared/media/videos``; skips when absent."""
    path = shared / "media" / "videos"
    if not path.is_dir():
        pytest.skip(f"needs the test videos at {path} (see ../shared/media/MANIFEST.md)")
    return path


@pytest.fixture(scope="session")
def talking_woman(videos: Path):
    """Frames of talking_woman.mp4 and their detections with the default detector (computed once)."""
    from vidswap.faces.detect import DetectorConfig, create_detector

    frames = read_video(videos / "talking_woman.mp4")
    detections = create_detector(DetectorConfig()).detect(frames)
    return frames, detections
