"""Convert an insightface ArcFace recognition ONNX model into our torch :class:`IResNet`.

insightface ships its recognition models (``w600k_r50.onnx`` in buffalo_l, ``glintr100.onnx``
in antelopev2) as ONNX only; training needs the same network as a differentiable torch module.
The exporters that made those files fold each BatchNorm that follows a convolution into the
convolution, and name initializers by number, so the conversion follows the graph rather than
names: the parameterised nodes (Conv, BatchNormalization, PRelu, Gemm / MatMul+Add), in graph
order, fill the modules of an IResNet in forward order. A folded convolution (one with a bias
where IResNet has none) gives the BatchNorm after it the identity statistics and the bias, which
computes the same function. A normalisation of raw pixels at the graph's input (Sub/Mul by
scalars, as in models converted from MXNet) is dropped: the torch model takes crops in [-1, 1].

Anything that does not fit is refused with the first offending node, the IResNet key it was
meant for and both shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from vidswap.errors import CheckpointError, InputError
from vidswap.models.config import IdentityBackbone

if TYPE_CHECKING:
    import numpy as np
    import onnx
    from torch import Tensor, nn

__all__ = ["convert_arcface_onnx"]

_PIXEL_OPS = ("Sub", "Mul", "Div", "Add")


@dataclass
class _Op:
    """A parameterised ONNX node: its kind (conv, bn, prelu, linear) and float tensors."""

    kind: str
    node: str
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    epsilon: float = 1e-5


@dataclass
class _Slot:
    """A module of the torch IResNet waiting for parameters, in forward order.

    Attributes:
        kind: conv, bn, prelu or linear.
        key: the module's state-dict prefix.
        shape: the shape of its weight (a BatchNorm's is its channel count).
        eps: a BatchNorm's epsilon (0 for the other kinds).
        state: the tensors found for it, once found.
    """

    kind: str
    key: str
    shape: tuple[int, ...]
    eps: float = 0.0
    state: dict[str, Tensor] | None = None


def _float_initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Float initializers and Constant-node values by name (integer ones are shapes, not weights)."""
    import numpy as np
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return {name: value for name, value in values.items() if np.issubdtype(value.dtype, np.floating)}


def _read_ops(model: onnx.ModelProto, path: Path) -> list[_Op]:
    """The parameterised nodes of the graph, in order."""
    from onnx import helper

    floats = _float_initializers(model)
    ops: list[_Op] = []
    seen_conv = False
    for node in model.graph.node:
        params = [name for name in node.input if name in floats]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        where = f"{path.name}: node {node.name or node.output[0]!r} ({node.op_type})"
        if node.op_type == "Conv":
            seen_conv = True
            if attrs.get("group", 1) != 1:
                raise CheckpointError(f"{where} is a grouped convolution; an IResNet has none")
            ops.append(_Op("conv", node.name, {"weight": floats[node.input[1]],
                                                **({"bias": floats[node.input[2]]} if len(node.input) > 2
                                                   and node.input[2] else {})}))
        elif node.op_type == "BatchNormalization":
            scale, bias, mean, var = (floats[name] for name in node.input[1:5])
            ops.append(_Op("bn", node.name, {"weight": scale, "bias": bias, "running_mean": mean,
                                              "running_var": var}, epsilon=float(attrs.get("epsilon", 1e-5))))
        elif node.op_type == "PRelu":
            ops.append(_Op("prelu", node.name, {"weight": floats[node.input[1]].reshape(-1)}))
        elif node.op_type == "Gemm":
            if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
                raise CheckpointError(f"{where} scales or transposes its input (alpha/beta/transA); "
                                      f"an IResNet's fc is a plain linear layer")
            weight = floats[node.input[1]]
            ops.append(_Op("linear", node.name, {"weight": weight if attrs.get("transB", 0) else weight.T,
                                                  **({"bias": floats[node.input[2]]} if len(node.input) > 2
                                                     else {})}))
        elif node.op_type == "MatMul" and params:
            ops.append(_Op("linear", node.name, {"weight": floats[params[0]].T}))
        elif (node.op_type == "Add" and params and ops and ops[-1].kind == "linear"
              and "bias" not in ops[-1].tensors and floats[params[0]].ndim == 1):
            ops[-1].tensors["bias"] = floats[params[0]]
        elif (params and not seen_conv and node.op_type in _PIXEL_OPS
              and all(floats[p].size == 1 for p in params)):
            continue  # normalisation of raw pixels before the first layer: the torch model takes [-1, 1]
        elif params:
            shapes = ", ".join(f"{p} {tuple(floats[p].shape)}" for p in params)
            raise CheckpointError(f"{where} holds parameters ({shapes}) that an IResNet has no place for")
    return ops


def _slots(model: nn.Module) -> list[list[_Slot]]:
    """The IResNet's parameterised modules in forward order, grouped: stem, each block, head."""
    import re

    from torch import nn

    groups: dict[str, list[_Slot]] = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            slot = _Slot("bn", name, tuple(module.weight.shape), eps=module.eps)
        elif isinstance(module, (nn.Conv2d, nn.PReLU, nn.Linear)):
            kind = {nn.Conv2d: "conv", nn.PReLU: "prelu", nn.Linear: "linear"}[type(module)]
            slot = _Slot(kind, name, tuple(module.weight.shape))
        else:
            continue
        block = re.match(r"layer\d+\.\d+\.", name)
        group = block.group(0) if block else ("head" if len(groups) > 1 else "stem")
        groups.setdefault(group, []).append(slot)
    return list(groups.values())


def _fill(slot: _Slot, op: _Op, path: Path) -> None:
    """Copy ``op``'s tensors into ``slot``, checking shapes."""
    import torch

    weight = op.tensors["weight"]
    if tuple(weight.shape) != slot.shape:
        raise CheckpointError(f"{path.name}: node {op.node!r} ({op.kind}) has weight {tuple(weight.shape)}, "
                              f"but {slot.key}.weight needs {slot.shape}; the model is not this IResNet")
    state = {name: torch.from_numpy(value.astype("float32").copy()) for name, value in op.tensors.items()}
    if slot.kind == "bn":
        state["running_var"] = state["running_var"] + (op.epsilon - slot.eps)
        state["num_batches_tracked"] = torch.tensor(0)
    if slot.kind == "conv":
        state.pop("bias", None)  # folded into the next BatchNorm by the caller
    if slot.kind == "linear" and "bias" not in state:
        raise CheckpointError(f"{path.name}: node {op.node!r} is a linear layer without a bias; "
                              f"{slot.key}.bias needs one")
    slot.state = state


def _identity_bn(slot: _Slot, bias: Tensor) -> None:
    """BatchNorm statistics that turn the layer into ``x + bias`` (a folded BatchNorm's remainder)."""
    import torch

    channels = slot.shape[0]
    if tuple(bias.shape) != (channels,):
        raise CheckpointError(f"a folded bias of shape {tuple(bias.shape)} cannot go to {slot.key} "
                              f"({channels} channels)")
    slot.state = {"weight": torch.ones(channels), "bias": bias.float(), "running_mean": torch.zeros(channels),
                  "running_var": torch.full((channels,), 1.0 - slot.eps),
                  "num_batches_tracked": torch.tensor(0)}


def _match(groups: list[list[_Slot]], ops: list[_Op], path: Path) -> None:
    """Fill every slot from ``ops``; within a group an op takes the first free slot of its kind
    and shape (so a block's shortcut convolution may come before or after its main branch), and
    a BatchNorm always follows the convolution it belongs to."""
    import torch

    queue = list(ops)
    for group in groups:
        pending_bn: _Slot | None = None
        slot: _Slot | None
        while any(slot.state is None for slot in group):
            if not queue:
                free = [slot for slot in group if slot.state is None]
                if [slot.key for slot in free] == ["features"] and not pending_bn:
                    _identity_bn(free[0], torch.zeros(free[0].shape[0]))  # folded into fc
                    continue
                raise CheckpointError(f"{path.name} ends before {free[0].key} ({free[0].kind}, weight "
                                      f"{free[0].shape}); the model is not this IResNet")
            op = queue.pop(0)
            if pending_bn is not None:
                if op.kind != "bn":
                    raise CheckpointError(f"{path.name}: node {op.node!r} ({op.kind}) where {pending_bn.key} "
                                          f"(bn) was expected after its convolution")
                slot, pending_bn = pending_bn, None
            else:
                slot = next((s for s in group if s.state is None and s.kind == op.kind
                             and s.shape == tuple(op.tensors["weight"].shape)), None)
                if slot is None:
                    expected = next(s for s in group if s.state is None)
                    raise CheckpointError(
                        f"{path.name}: node {op.node!r} ({op.kind}, weight "
                        f"{tuple(op.tensors['weight'].shape)}) does not fit; next expected {expected.key} "
                        f"({expected.kind}, weight {expected.shape})")
            _fill(slot, op, path)
            if slot.kind == "conv":
                following = group[group.index(slot) + 1]
                if "bias" in op.tensors:
                    _identity_bn(following, torch.from_numpy(op.tensors["bias"].astype("float32").copy()))
                else:
                    pending_bn = following
    if queue:
        raise CheckpointError(f"{path.name}: node {queue[0].node!r} ({queue[0].kind}, weight "
                              f"{tuple(queue[0].tensors['weight'].shape)}) is left over after the last "
                              f"IResNet layer; the model is larger than this IResNet")


def _pick_backbone(ops: list[_Op], path: Path) -> IdentityBackbone:
    """The IResNet with as many blocks as the graph has PRelu nodes after the stem."""
    import torch

    from vidswap.models.identity import IBasicBlock, build_identity_backbone

    blocks = sum(op.kind == "prelu" for op in ops) - 1
    counts = {}
    for name in get_args(IdentityBackbone):
        with torch.device("meta"):
            counts[name] = sum(isinstance(m, IBasicBlock) for m in build_identity_backbone(name).modules())
        if counts[name] == blocks:
            return name
    raise CheckpointError(f"{path.name} has {blocks} residual blocks (PRelu nodes after the stem); known "
                          f"IResNets have {', '.join(f'{n}: {c}' for n, c in counts.items())}")


def convert_arcface_onnx(path: str | Path, *, backbone: IdentityBackbone | None = None
                         ) -> tuple[IdentityBackbone, dict[str, Tensor]]:
    """Read an ArcFace ONNX recognition model as a state dict of our IResNet.

    Args:
        path: the ``.onnx`` file (e.g. ``w600k_r50.onnx``, ``glintr100.onnx``).
        backbone: which IResNet it is; found from the number of residual blocks when ``None``.

    Returns:
        The backbone name and a float32 state dict that
        ``build_identity_backbone(name).load_state_dict(..., strict=True)`` accepts. The torch
        model takes RGB crops in [-1, 1] (see :mod:`vidswap.models.identity`).

    Raises:
        InputError: the file does not exist.
        CheckpointError: not an ONNX model, or a node that does not fit (the message names the
            node, the IResNet key and both shapes).
    """
    import onnx
    import torch

    from vidswap.models.identity import build_identity_backbone

    path = Path(path)
    if not path.is_file():
        raise InputError(f"ONNX recognition model {path} does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as err:  # noqa: BLE001 - onnx raises DecodeError and others for a bad file
        raise CheckpointError(f"{path} is not an ONNX model: {err}") from err
    ops = _read_ops(model, path)
    name = backbone or _pick_backbone(ops, path)
    with torch.device("meta"):
        network = build_identity_backbone(name)
    groups = _slots(network)
    _match(groups, ops, path)
    state = {f"{slot.key}.{key}": value for group in groups for slot in group
             for key, value in (slot.state or {}).items()}
    expected = network.state_dict()
    missing = [key for key in expected if key not in state]
    if missing:
        raise CheckpointError(f"{path.name}: the conversion left {missing[0]!r} unset")
    return name, {key: state[key] for key in expected}
