"""The public names of vidswap.models: a removal breaks other parts of vidswap."""

from __future__ import annotations

import vidswap.models

PUBLIC = {"FaceShifterConfig", "AEINet", "HEARNet", "MultiScaleDiscriminator", "IResNet", "IdentityEncoder",
          "TorchIdentityEncoder", "OnnxIdentityEncoder", "build_identity_backbone", "resize_for_identity",
          "ModelBundle", "build_bundle", "save_checkpoint", "load_checkpoint"}


def test_public_names_resolve() -> None:
    assert PUBLIC <= set(vidswap.models.__all__)
    for name in vidswap.models.__all__:
        assert getattr(vidswap.models, name).__name__ == name


def test_unknown_name() -> None:
    import pytest

    with pytest.raises(AttributeError, match="Swapper"):
        vidswap.models.Swapper  # noqa: B018
