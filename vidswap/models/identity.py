"""The identity encoder: ArcFace IResNet backbones behind one small interface.

:class:`IResNet` keeps exactly the state-dict layout of insightface's ``arcface_torch``
backbones (``conv1``, ``bn1``, ``prelu``, ``layer1..4`` of IBasicBlocks, ``bn2``, ``dropout``,
``fc``, ``features``), so their ``.pth`` files (ghost's ``backbone.pth`` among them) load with
``load_state_dict`` directly. Two :class:`IdentityEncoder` implementations: torch (trainable
graph, for training and for checkpoints that carry their backbone) and ONNX (insightface
recognition models such as ``w600k_r50.onnx`` or ``glintr100.onnx``, for inference).

Convention for every encoder: crops are Bx3x112x112, RGB, values in [-1, 1] (``(pixel −
127.5) / 127.5``), aligned the way the backbone was trained (ArcFace 5-point template);
embeddings are Bx512, raw (not L2-normalised).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidswap.errors import ConfigError, InputError, ShapeError

if TYPE_CHECKING:
    from vidswap.models.config import IdentityBackbone

__all__ = ["IBasicBlock", "IResNet", "build_identity_backbone", "resize_for_identity", "IdentityEncoder",
           "TorchIdentityEncoder", "OnnxIdentityEncoder", "CROP_SIZE", "EMBEDDING_SIZE"]

CROP_SIZE = 112
EMBEDDING_SIZE = 512

#: Blocks per stage and stage widths of each backbone ("iresnet-tiny" is for tests only).
_ARCHS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "iresnet50": ((3, 4, 14, 3), (64, 128, 256, 512)),
    "iresnet100": ((3, 13, 30, 3), (64, 128, 256, 512)),
    "iresnet-tiny": ((1, 1, 1, 1), (8, 16, 32, 64)),
}


def _check_crops(crops: Tensor) -> None:
    if crops.ndim != 4 or tuple(crops.shape[1:]) != (3, CROP_SIZE, CROP_SIZE):
        raise ShapeError(f"the identity encoder expects crops Bx3x{CROP_SIZE}x{CROP_SIZE}, "
                         f"got {tuple(crops.shape)}")


class IBasicBlock(nn.Module):
    """BN → 3x3 conv → BN → PReLU → 3x3 conv (stride) → BN, plus a (projected) shortcut."""

    def __init__(self, in_channels: int, channels: int, *, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, eps=1e-5)
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels, eps=1e-5)
        self.prelu = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels, eps=1e-5)
        self.downsample = (
            nn.Sequential(nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride, bias=False),
                          nn.BatchNorm2d(channels, eps=1e-5))
            if stride != 1 or in_channels != channels else None)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """ArcFace's improved ResNet: 112² RGB crop → ``num_features`` embedding.

    Args:
        layers: IBasicBlocks in each of the four stages ((3, 4, 14, 3) is iresnet50,
            (3, 13, 30, 3) is iresnet100).
        widths: channels of the four stages (64, 128, 256, 512 for the published ones).
        num_features: embedding size.
        dropout: dropout before the final linear layer (training only).
    """

    def __init__(self, layers: tuple[int, ...], *, widths: tuple[int, ...] = (64, 128, 256, 512),
                 num_features: int = EMBEDDING_SIZE, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0], eps=1e-5)
        self.prelu = nn.PReLU(widths[0])
        stages, in_channels = [], widths[0]
        for blocks, channels in zip(layers, widths, strict=True):
            stages.append(nn.Sequential(*(IBasicBlock(in_channels if b == 0 else channels, channels,
                                                      stride=2 if b == 0 else 1) for b in range(blocks))))
            in_channels = channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn2 = nn.BatchNorm2d(widths[-1], eps=1e-5)
        self.dropout = nn.Dropout(p=dropout)
        side = CROP_SIZE // 16
        self.fc = nn.Linear(widths[-1] * side * side, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)
        # arcface_torch fixes the embedding BN's scale at 1.
        nn.init.ones_(self.features.weight)
        self.features.weight.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        """Embed Bx3x112x112 RGB crops in [-1, 1] → Bx``num_features`` (raw, not normalised)."""
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


def build_identity_backbone(name: IdentityBackbone, *, num_features: int = EMBEDDING_SIZE) -> IResNet:
    """The named IResNet (``iresnet50``, ``iresnet100`` or the test-only ``iresnet-tiny``)."""
    if name not in _ARCHS:
        raise ConfigError(f"unknown identity backbone {name!r}; expected one of {', '.join(_ARCHS)}")
    layers, widths = _ARCHS[name]
    return IResNet(layers, widths=widths, num_features=num_features)


def resize_for_identity(images: Tensor) -> Tensor:
    """The 112² identity crops of aligned 256² face crops: the whole crop, resized; the one
    identity crop of FaceShifter, for training (L_id) and inference (z_id) alike.

    Right for both alignments of :class:`~vidswap.models.config.FaceShifterConfig` (the
    ArcFace template scaled to the crop, and ghost's pose templates, which are close to it).
    Bilinear without antialiasing, because that is what the published weights saw: ghost
    computes z_id with a plain bilinear ``F.interpolate`` both in training (256² → 112²) and at
    inference (224² → 112²), and insightface warps straight to 112² without a low-pass filter.

    Args:
        images: Bx3xSxS RGB in [-1, 1].

    Returns:
        Bx3x112x112 RGB in [-1, 1].
    """
    return F.interpolate(images, size=(CROP_SIZE, CROP_SIZE), mode="bilinear", align_corners=False)


@runtime_checkable
class IdentityEncoder(Protocol):
    """Anything that turns aligned face crops into identity embeddings.

    ``embed(crops)``: crops Bx3x112x112 float RGB in [-1, 1] → Bx512 float32 raw embeddings
    on the crops' device.
    """

    def embed(self, crops: Tensor) -> Tensor: ...


class TorchIdentityEncoder(nn.Module):
    """A torch :class:`IResNet` as an :class:`IdentityEncoder`; frozen, always in eval mode.

    Gradients flow to the crops (L_id needs them), never to the backbone's weights.
    """

    def __init__(self, backbone: IResNet) -> None:
        super().__init__()
        self.backbone = backbone.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> TorchIdentityEncoder:
        # The backbone's BatchNorm keeps its running statistics: a frozen encoder never trains.
        return super().train(False)

    def embed(self, crops: Tensor) -> Tensor:
        _check_crops(crops)
        return self.backbone(crops)

    forward = embed


class OnnxIdentityEncoder:
    """An insightface ONNX recognition model (e.g. ``w600k_r50.onnx``, ``glintr100.onnx``).

    insightface feeds these models RGB crops normalised as ``(pixel − 127.5) / 127.5`` (its
    ``ArcFaceONNX`` reads BGR with OpenCV and swaps to RGB), which is our crop convention as
    is. Models converted from MXNet carry that normalisation in the graph (a Sub and a Mul
    among the first nodes) and take raw 0..255 pixels; those are detected the same way
    insightface does and fed ``crops * 127.5 + 127.5``.

    Args:
        path: the ``.onnx`` file.
        providers: onnxruntime execution providers (default: CPU).
    """

    def __init__(self, path: str | Path, *, providers: list[str] | None = None) -> None:
        import onnx
        import onnxruntime

        path = Path(path)
        if not path.is_file():
            raise InputError(f"ONNX recognition model {path} does not exist")
        first = [node.name for node in onnx.load(str(path), load_external_data=False).graph.node[:8]]
        self.raw_pixels = (any(n.startswith(("Sub", "_minus")) for n in first)
                           and any(n.startswith(("Mul", "_mul")) for n in first))
        self.session = onnxruntime.InferenceSession(str(path),
                                                    providers=providers or ["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def embed(self, crops: Tensor) -> Tensor:
        _check_crops(crops)
        x = crops.detach().float().cpu()
        if self.raw_pixels:
            x = x * 127.5 + 127.5
        out = self.session.run(None, {self.input_name: x.contiguous().numpy()})[0]
        return torch.from_numpy(out).to(crops.device)
