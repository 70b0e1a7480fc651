"""ArcFace IResNet layout, the torch identity encoder, and the ONNX identity encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidswap.errors import ConfigError, ShapeError
from vidswap.models import IdentityEncoder, IResNet, OnnxIdentityEncoder, TorchIdentityEncoder
from vidswap.models.identity import build_identity_backbone, resize_for_identity


class TestIResNet:
    @pytest.mark.parametrize(("name", "stage3"), [("iresnet50", 14), ("iresnet100", 30)])
    def test_arcface_torch_layout(self, name: str, stage3: int) -> None:
        with torch.device("meta"):
            sd = build_identity_backbone(name).state_dict()
        assert f"layer3.{stage3 - 1}.conv2.weight" in sd and f"layer3.{stage3}.bn1.weight" not in sd
        for key, shape in {"conv1.weight": (64, 3, 3, 3), "prelu.weight": (64,),
                           "layer1.0.downsample.0.weight": (64, 64, 1, 1),
                           "layer2.0.downsample.1.running_var": (128,), "layer4.2.prelu.weight": (512,),
                           "bn2.weight": (512,), "fc.weight": (512, 512 * 49),
                           "features.running_mean": (512,)}.items():
            assert tuple(sd[key].shape) == shape, key
        assert "layer1.1.downsample.0.weight" not in sd

    def test_embedding_shape_and_frozen_scale(self) -> None:
        net = build_identity_backbone("iresnet-tiny").eval()
        out = net(torch.rand(2, 3, 112, 112) * 2 - 1)
        assert out.shape == (2, 512) and not net.features.weight.requires_grad

    def test_unknown_backbone(self) -> None:
        with pytest.raises(ConfigError, match="iresnet18"):
            build_identity_backbone("iresnet18")  # type: ignore[arg-type]


class TestTorchIdentityEncoder:
    def test_frozen_but_differentiable_in_crops(self) -> None:
        enc = TorchIdentityEncoder(build_identity_backbone("iresnet-tiny")).train()
        assert isinstance(enc, IdentityEncoder) and not enc.backbone.training
        crops = (torch.rand(2, 3, 112, 112) * 2 - 1).requires_grad_()
        enc.embed(crops).sum().backward()
        assert crops.grad is not None and crops.grad.abs().sum() > 0
        assert all(p.grad is None for p in enc.parameters())

    def test_wrong_size(self) -> None:
        enc = TorchIdentityEncoder(IResNet((1, 1, 1, 1), widths=(4, 4, 4, 4)))
        with pytest.raises(ShapeError, match="112"):
            enc.embed(torch.zeros(1, 3, 128, 128))


def linear_onnx(path: Path, weight: np.ndarray, *, mxnet_style: bool) -> None:
    """A tiny recognition-shaped ONNX model: flatten the 3x112x112 input, multiply by ``weight``.

    ``mxnet_style`` names the first nodes Sub/Mul, as MXNet-converted models that normalise inside.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    if mxnet_style:
        nodes += [helper.make_node("Identity", ["input.1"], ["a"], name="Sub_0"),
                  helper.make_node("Identity", ["a"], ["b"], name="Mul_1")]
    nodes += [helper.make_node("Flatten", ["b" if mxnet_style else "input.1"], ["flat"], name="Flatten_2"),
              helper.make_node("MatMul", ["flat", "W"], ["683"], name="MatMul_3")]
    graph = helper.make_graph(
        nodes, "rec", [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["N", 512])],
        initializer=[numpy_helper.from_array(weight, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


class TestOnnxIdentityEncoder:
    @pytest.mark.parametrize("mxnet_style", [False, True])
    def test_input_convention(self, tmp_path: Path, mxnet_style: bool) -> None:
        weight = np.random.default_rng(0).standard_normal((3 * 112 * 112, 512)).astype(np.float32) / 100
        linear_onnx(tmp_path / "rec.onnx", weight, mxnet_style=mxnet_style)
        enc = OnnxIdentityEncoder(tmp_path / "rec.onnx")
        assert isinstance(enc, IdentityEncoder) and enc.raw_pixels is mxnet_style
        crops = torch.rand(2, 3, 112, 112) * 2 - 1
        fed = crops * 127.5 + 127.5 if mxnet_style else crops
        expected = fed.reshape(2, -1).numpy() @ weight
        np.testing.assert_allclose(enc.embed(crops).numpy(), expected, rtol=1e-4, atol=1e-3)


class TestResizeForIdentity:
    def test_whole_crop_to_112(self) -> None:
        images = torch.rand(2, 3, 256, 256) * 2 - 1
        crops = resize_for_identity(images)
        assert crops.shape == (2, 3, 112, 112)
        torch.testing.assert_close(crops.mean(dim=(2, 3)), images.mean(dim=(2, 3)), atol=2e-2, rtol=0)
        flat = resize_for_identity(torch.full((1, 3, 256, 256), 0.5))
        torch.testing.assert_close(flat, torch.full((1, 3, 112, 112), 0.5))
