"""What a weights file is, checked before it enters the cache when the manifest pins no sha256.

A manifest entry without a published checksum cannot be trusted by its bytes, so the file
must at least be what the entry says: of its format (a safetensors file whose offsets tile
its data, a torch zip checkpoint holding only a flat state dict, an ONNX graph, a readable
zip), and, where the entry names an ``architecture``, holding exactly that network's tensor
names and shapes. An HTML error page, a body cut short or another model is refused here,
naming what differs.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

from vidswap.errors import CheckpointError, WeightsError
from vidswap.weights.manifest import Architecture, WeightEntry

__all__ = ["architecture_problem", "check_file"]

Shapes = Mapping[str, tuple[int, ...]]


def check_file(entry: WeightEntry, path: Path, *, label: str | None = None) -> str:
    """Check that ``path`` is a file of ``entry``'s format (and architecture, when it names one).

    Args:
        entry: the manifest entry the file claims to be.
        path: the file.
        label: how messages name the file (its URL or original path); ``path`` by default.

    Returns:
        What was checked, for the cache record (e.g. ``pth state dict, 311 tensors of ghost-aei-2blocks``).

    Raises:
        WeightsError: the file is not what the entry claims; the message names what differs.
    """
    def refuse(why: str) -> WeightsError:
        return WeightsError(f"{label or path} is not {entry.name!r} ({entry.format}"
                            f"{', ' + entry.architecture if entry.architecture else ''}): {why}")

    try:
        shapes = _FORMATS[entry.format](path)
    except CheckpointError as err:
        first = str(err).splitlines()[0]  # one line: the CLI prints it as its one error line
        raise refuse(first.replace(f"{path} ", "it ", 1).replace(f"{path}", "it")) from err
    if entry.size is not None and path.stat().st_size != entry.size:
        raise refuse(f"it has {path.stat().st_size} bytes, the manifest says {entry.size}")
    if shapes is None:
        return f"{entry.format} structure"
    if entry.architecture is not None:
        problem = architecture_problem(entry.architecture, shapes)
        if problem is not None:
            raise refuse(problem)
        return f"{entry.format} state dict, {len(shapes)} tensors of {entry.architecture}"
    return f"{entry.format} state dict, {len(shapes)} tensors"


def architecture_problem(architecture: Architecture, shapes: Shapes) -> str | None:
    """Why tensors named and shaped ``shapes`` are not ``architecture``, or None when they are."""
    import torch

    if architecture.startswith("ghost-aei-"):
        from vidswap.weights.ghost import check_ghost_aei, ghost_config

        units = {"1block": 1, "2blocks": 2, "3blocks": 3}[architecture.removeprefix("ghost-aei-")]
        try:
            check_ghost_aei(shapes, ghost_config(aad_units=units))
        except CheckpointError as err:
            return str(err)
        return None
    from vidswap.models.identity import build_identity_backbone

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in
                    build_identity_backbone("iresnet100", num_features=512).state_dict().items()}
    missing = [k for k in expected if k not in shapes]
    unexpected = [k for k in shapes if k not in expected]
    if unexpected:
        return f"unexpected tensor {unexpected[0]!r} ({len(unexpected)} in all) for an {architecture}"
    if missing:
        return f"missing tensor {missing[0]!r} ({len(missing)} in all) of an {architecture}"
    wrong = next((k for k in expected if tuple(shapes[k]) != expected[k]), None)
    if wrong is not None:
        return f"tensor {wrong!r} has shape {tuple(shapes[wrong])}, an {architecture} needs {expected[wrong]}"
    return None


def _pth(path: Path) -> Shapes:
    """A torch zip checkpoint holding a flat state dict (read with ``weights_only=True``)."""
    from vidswap.weights.torchfile import load_torch_state_dict

    if not zipfile.is_zipfile(path):
        raise CheckpointError("it is not a torch zip checkpoint (a cut-off download, an HTML page, or "
                              "the legacy pickle format, which vidswap does not read)")
    return {k: tuple(v.shape) for k, v in load_torch_state_dict(path).items()}


def _safetensors(path: Path) -> Shapes:
    from vidswap.models.safetensors_file import read_safetensors_header

    return read_safetensors_header(path).tensors


def _onnx(path: Path) -> None:
    """An ONNX model with a graph (parsed without external data)."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeWarning) as err:
        raise CheckpointError(f"it is not an ONNX model ({type(err).__name__}: {err})") from err
    if not model.graph.node:
        raise CheckpointError("it is not an ONNX model: it has no graph nodes")


def _zip(path: Path) -> None:
    """A zip whose every member reads back with its CRC."""
    try:
        with zipfile.ZipFile(path) as pack:
            bad = pack.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CheckpointError(f"it is not a readable zip ({err})") from err
    if bad is not None:
        raise CheckpointError(f"its member {bad} is damaged (CRC mismatch)")


_FORMATS: dict[str, Callable[[Path], Shapes | None]] = {
    "pth": _pth, "safetensors": _safetensors, "onnx": _onnx, "zip": _zip}
