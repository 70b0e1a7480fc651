"""ArcFace ONNX → torch IResNet: an ONNX model exported from a random torch IResNet converts back."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from vidswap.errors import CheckpointError, InputError
from vidswap.models.identity import OnnxIdentityEncoder, build_identity_backbone
from vidswap.weights.arcface_onnx import convert_arcface_onnx


def random_backbone(seed: int = 0, **kwargs) -> nn.Module:
    """A tiny IResNet whose BatchNorm statistics and PReLU slopes are far from their defaults,
    so folding a BatchNorm into a convolution changes the weights."""
    torch.manual_seed(seed)
    model = build_identity_backbone("iresnet-tiny", **kwargs)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.normal_(0, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.normal_(1, 0.2)
                module.bias.normal_(0, 0.2)
            elif isinstance(module, nn.PReLU):
                module.weight.uniform_(0.05, 0.5)
    return model.eval()


class RawPixels(nn.Module):
    """What a model converted from MXNet looks like: it normalises 0..255 pixels itself."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone((x - 127.5) * 0.0078125)


def export(model: nn.Module, path: Path, *, dynamo: bool) -> Path:
    logging.disable(logging.WARNING)  # the dynamo exporter reports its progress through logging
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros(2, 3, 112, 112),), str(path), dynamo=dynamo,
                              input_names=["input"], output_names=["embedding"])
    finally:
        logging.disable(logging.NOTSET)
    return path


def crops(seed: int = 1) -> torch.Tensor:
    return torch.rand(2, 3, 112, 112, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class TestConvertArcfaceOnnx:
    @pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript-exporter", "dynamo-exporter"])
    def test_round_trip_same_embeddings(self, tmp_path: Path, dynamo: bool) -> None:
        original = random_backbone()
        path = export(original, tmp_path / "r.onnx", dynamo=dynamo)
        name, state = convert_arcface_onnx(path)
        assert name == "iresnet-tiny"
        converted = build_identity_backbone(name)
        converted.load_state_dict(state, strict=True)
        converted.eval()
        x = crops()
        with torch.no_grad():
            expected, got = original(x), converted(x)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(got, OnnxIdentityEncoder(path).embed(x), rtol=1e-4, atol=1e-4)

    def test_shortcut_before_main_branch(self, tmp_path: Path) -> None:
        """Exporters may order a block's shortcut convolution first; the graph stays valid."""
        import onnx

        original = random_backbone(seed=5)
        path = export(original, tmp_path / "r.onnx", dynamo=False)
        model = onnx.load(str(path))
        nodes = list(model.graph.node)
        shortcuts = [n for n in nodes if "downsample" in n.name]
        assert len(shortcuts) == 4  # one per stage of the tiny IResNet
        for shortcut in shortcuts:
            nodes.remove(shortcut)
            block = shortcut.name.split("/downsample")[0]
            first = next(i for i, n in enumerate(nodes) if n.name.startswith(block + "/"))
            nodes.insert(first, shortcut)
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp_path / "reordered.onnx"))
        name, state = convert_arcface_onnx(tmp_path / "reordered.onnx")
        converted = build_identity_backbone(name)
        converted.load_state_dict(state)
        with torch.no_grad():
            torch.testing.assert_close(converted.eval()(crops()), original(crops()), rtol=1e-4, atol=1e-4)

    def test_gradients_flow_through_the_converted_model(self, tmp_path: Path) -> None:
        _, state = convert_arcface_onnx(export(random_backbone(), tmp_path / "r.onnx", dynamo=False))
        model = build_identity_backbone("iresnet-tiny")
        model.load_state_dict(state)
        x = crops().requires_grad_(True)
        model.eval()(x).sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0

    def test_raw_pixel_model_becomes_a_minus_one_to_one_model(self, tmp_path: Path) -> None:
        original = random_backbone(seed=3)
        path = export(RawPixels(original).eval(), tmp_path / "mx.onnx", dynamo=False)
        name, state = convert_arcface_onnx(path)
        converted = build_identity_backbone(name)
        converted.load_state_dict(state)
        x = crops(seed=4)
        with torch.no_grad():
            torch.testing.assert_close(converted.eval()(x), original(x), rtol=1e-4, atol=1e-4)

    def test_wrong_backbone_names_node_key_and_shapes(self, tmp_path: Path) -> None:
        path = export(random_backbone(), tmp_path / "r.onnx", dynamo=False)
        with pytest.raises(CheckpointError,
                           match=r"r\.onnx: node '/conv1/Conv' \(conv, weight \(8, 3, 3, 3\)\) does not fit; "
                                 r"next expected conv1 \(conv, weight \(64, 3, 3, 3\)\)"):
            convert_arcface_onnx(path, backbone="iresnet50")

    def test_other_embedding_size_is_refused(self, tmp_path: Path) -> None:
        path = export(random_backbone(num_features=128), tmp_path / "r128.onnx", dynamo=False)
        with pytest.raises(CheckpointError, match=r"\(128, 3136\).*fc \(linear, weight \(512, 3136\)\)"):
            convert_arcface_onnx(path)

    def test_unknown_structure(self, tmp_path: Path) -> None:
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.PReLU(4), nn.Flatten(),
                              nn.Linear(4 * 110 * 110, 8)).eval()
        with pytest.raises(CheckpointError, match="residual blocks"):
            convert_arcface_onnx(export(model, tmp_path / "other.onnx", dynamo=False))

    def test_missing_and_invalid_files(self, tmp_path: Path) -> None:
        with pytest.raises(InputError):
            convert_arcface_onnx(tmp_path / "absent.onnx")
        (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all \xff\xfe")
        with pytest.raises(CheckpointError, match="not an ONNX model"):
            convert_arcface_onnx(tmp_path / "junk.onnx")
