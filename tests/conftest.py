"""Fixtures shared by every test: device/dtype choice and the ``../shared`` test assets.

``--device cuda`` (or ``VIDSWAP_TEST_DEVICE=cuda``) runs device-aware tests on a GPU; the
default is the CPU. Tests that need ``../shared`` (real media, reference fixtures, detector
weights) skip with the reason when it is absent; ``VIDSWAP_SHARED`` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default=os.environ.get("VIDSWAP_TEST_DEVICE", "cpu"),
                     help="torch device for device-aware tests (cpu, cuda, cuda:1)")
    parser.addoption("--dtype", default=os.environ.get("VIDSWAP_TEST_DTYPE", "float32"),
                     help="floating dtype for device-aware tests (float32, bfloat16, float16)")


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest):
    """The torch device chosen with --device; skips when it is CUDA and none is present."""
    import torch

    name = request.config.getoption("--device")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip(f"--device {name} asked for, but torch sees no CUDA device")
    return torch.device(name)


@pytest.fixture(scope="session")
def dtype(request: pytest.FixtureRequest):
    """The floating dtype chosen with --dtype."""
    import torch

    return getattr(torch, request.config.getoption("--dtype"))


def tolerance(dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing results computed in ``dtype``."""
    import torch

    return {torch.float32: (1e-4, 1e-5), torch.float16: (1e-2, 1e-2),
            torch.bfloat16: (2e-2, 2e-2)}.get(dtype, (1e-6, 1e-7))


def shared_path() -> Path:
    """Where the read-only shared assets live (``../shared`` beside the checkout by default)."""
    return Path(os.environ.get("VIDSWAP_SHARED", REPO.parent / "shared"))


def shared_media(shared: Path, *parts: str) -> Path:
    """A file of ``shared/media`` (``"videos", "hamilton_short.mp4"``); skips the test when it is absent."""
    path = shared.joinpath("media", *parts)
    if not path.is_file():
        pytest.skip(f"needs {path} (see ../shared/media/MANIFEST.md)")
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ``../shared`` folder; skips the test when it is absent."""
    path = shared_path()
    if not path.is_dir():
        pytest.skip(f"needs the shared test assets at {path} (set VIDSWAP_SHARED to their folder)")
    return path


@pytest.fixture(scope="session")
def yunet_hub(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torch hub cache holding kornia's YuNet weights, so kornia runs offline.

    Copies ``shared/weights/yunet_final.pth`` into ``$TORCH_HOME/hub/checkpoints`` of a
    temporary TORCH_HOME and points TORCH_HOME there for the session.
    """
    import shutil

    src = shared / "weights" / "yunet_final.pth"
    if not src.is_file():
        pytest.skip(f"needs {src} (kornia's YuNet weights) for the yunet detector")
    home = tmp_path_factory.mktemp("torch_home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    shutil.copy(src, checkpoints / src.name)
    os.environ["TORCH_HOME"] = str(home)
    return home
