"""Model files: a swap model as one safetensors file with its family and config inside.

A model file holds the tensors of each network under a prefix (FaceShifter: ``aei.``,
``identity.``, optionally ``hear.`` and ``discriminator.``) and, in the safetensors header
metadata, one JSON entry: the format version, the model's family (a key of
:data:`~vidswap.models.family.FAMILIES`; ``faceshifter`` when absent), its config and
free-form provenance (source, licence, original sha256). safetensors stores raw tensors only,
so loading one never runs code. Files are written to a temporary name in the same folder and
renamed when complete; loading is strict (every key of every present network, nothing else).

The container (:func:`write_model_file`, :func:`read_model_header`, :func:`read_model_tensors`)
is the same for every family; the rest of this module is FaceShifter's use of it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from vidswap.errors import CheckpointError, ConfigError, InputError, OutputExistsError
from vidswap.models.aei import AEINet
from vidswap.models.config import FaceShifterConfig
from vidswap.models.discriminator import MultiScaleDiscriminator
from vidswap.models.faceshifter import PARTS, ModelBundle
from vidswap.models.family import DEFAULT_FAMILY
from vidswap.models.hear import HEARNet
from vidswap.models.identity import IResNet, build_identity_backbone

__all__ = ["FORMAT_VERSION", "ModelBundle", "ModelHeader", "CheckpointInfo", "build_bundle", "build_part",
           "bundle_from_state", "write_model_file", "write_checkpoint", "save_checkpoint",
           "is_model_file", "read_model_header", "read_model_tensors", "read_checkpoint_info", "load_checkpoint"]

FORMAT_VERSION = "1"
REQUIRED_PARTS = ("aei", "identity")
#: The one header metadata entry: a JSON object {format, family, config, parts, metadata}. One
#: entry, because safetensors writes several in random order and equal models should be equal files.
_HEADER_KEY = "vidswap"

_Module = TypeVar("_Module", bound=nn.Module)


@dataclass(frozen=True)
class ModelHeader:
    """A model file's header, any family: what :func:`read_model_header` returns.

    Attributes:
        family: the swap-model family (``faceshifter`` for files written before the field).
        config: the family's config as JSON values.
        parts: the tensor prefixes present, in file order.
        metadata: provenance strings.
    """

    family: str
    config: dict[str, Any]
    parts: tuple[str, ...]
    metadata: dict[str, str]


@dataclass(frozen=True)
class CheckpointInfo:
    """What a FaceShifter model file's header says, read without loading tensors."""

    config: FaceShifterConfig
    parts: tuple[str, ...]
    metadata: dict[str, str]


def build_part(name: str, cfg: FaceShifterConfig) -> nn.Module:
    """A freshly initialised network for the file prefix ``name``."""
    builders = {"aei": AEINet, "hear": HEARNet, "discriminator": MultiScaleDiscriminator,
                "identity": lambda c: build_identity_backbone(c.identity_backbone, num_features=c.c_id)}
    if name not in builders:
        raise CheckpointError(f"unknown model part {name!r}; expected one of {', '.join(PARTS)}")
    return builders[name](cfg)


def _typed(name: str, module: nn.Module | None, kind: type[_Module]) -> _Module | None:
    """``module`` as the network class of part ``name`` (None stays None)."""
    if module is not None and not isinstance(module, kind):
        raise CheckpointError(f"model part {name!r} is a {type(module).__name__}, expected a {kind.__name__}")
    return module


def _bundle(cfg: FaceShifterConfig, modules: Mapping[str, nn.Module],
            metadata: Mapping[str, str]) -> ModelBundle:
    """A bundle of the networks in ``modules`` (``aei`` and ``identity`` present)."""
    aei = _typed("aei", modules.get("aei"), AEINet)
    identity = _typed("identity", modules.get("identity"), IResNet)
    if aei is None or identity is None:
        raise CheckpointError("a FaceShifter model needs the aei and identity networks; "
                              f"got {', '.join(modules)}")
    return ModelBundle(config=cfg, aei=aei, identity=identity,
                       hear=_typed("hear", modules.get("hear"), HEARNet),
                       discriminator=_typed("discriminator", modules.get("discriminator"),
                                            MultiScaleDiscriminator),
                       metadata=dict(metadata))


def build_bundle(cfg: FaceShifterConfig, *, hear: bool = True, discriminator: bool = False,
                 metadata: Mapping[str, str] | None = None) -> ModelBundle:
    """Randomly initialised networks for ``cfg`` (build under ``torch.device('meta')`` for shapes only)."""
    names = ("aei", "identity", *(("hear",) if hear else ()), *(("discriminator",) if discriminator else ()))
    return _bundle(cfg, {name: build_part(name, cfg) for name in names}, metadata or {})


def _check_state(part: str, state: Mapping[str, Tensor], expected: Mapping[str, Tensor], source: str) -> None:
    """Refuse a state dict whose keys or shapes differ from the network's, listing the culprits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        listed = "; ".join(f"{what}: {', '.join(f'{part}.{k}' for k in keys[:5])}"
                           + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
                           for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys)
        raise CheckpointError(f"{source}: the {part} tensors do not fit its config ({listed})")
    for k, want in expected.items():
        if tuple(state[k].shape) != tuple(want.shape):
            raise CheckpointError(f"{source}: {part}.{k} has shape {tuple(state[k].shape)}, the config needs "
                                  f"{tuple(want.shape)}")


def _expected_state(part: str, cfg: FaceShifterConfig) -> dict[str, Tensor]:
    with torch.device("meta"):
        return build_part(part, cfg).state_dict()


def _standalone(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """CPU, contiguous tensors that share no storage (safetensors refuses shared tensors)."""
    seen: set[int] = set()
    out = {}
    for name, t in tensors.items():
        t = t.detach().cpu()
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen or not t.is_contiguous():
            t = t.clone(memory_format=torch.contiguous_format)
        seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def write_safetensors(path: Path, tensors: Mapping[str, Tensor], header: Mapping[str, str]) -> None:
    """Write ``tensors`` with ``header`` as a safetensors file that appears only when complete.

    Tensors are moved to the CPU and made contiguous; one that shares storage with an earlier
    one (tied weights) is cloned, since safetensors refuses shared tensors. The file is written
    under a temporary name in the same folder (so the rename is atomic) with the permissions
    ``open()`` would give it (safetensors itself creates 0600 files).
    """
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        save_file(_standalone(dict(tensors)), tmp, metadata=dict(header))
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_model_file(path: str | Path, *, family: str, config: Mapping[str, Any],
                     parts: Mapping[str, Mapping[str, Tensor]], metadata: Mapping[str, str] | None = None,
                     overwrite: bool = False) -> Path:
    """Write a model file of any family, atomically: ``parts`` under their prefixes, the header.

    Args:
        path: the ``.safetensors`` file to write.
        family: the swap-model family (a key of :data:`~vidswap.models.family.FAMILIES`).
        config: the family's config as JSON values.
        parts: state dict per tensor prefix, in file order.
        metadata: provenance strings kept in the header (source, licence, sha256, ...).
        overwrite: replace an existing file instead of refusing.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; choose another name or allow overwriting")
    tensors = {f"{name}.{k}": v for name, state in parts.items() for k, v in state.items()}
    header = {_HEADER_KEY: json.dumps({
        "format": FORMAT_VERSION, "family": family, "config": dict(config), "parts": list(parts),
        "metadata": {str(k): str(v) for k, v in (metadata or {}).items()}}, sort_keys=True)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(path, tensors, header)
    return path


def write_checkpoint(path: str | Path, config: FaceShifterConfig,
                     parts: Mapping[str, Mapping[str, Tensor]], *,
                     metadata: Mapping[str, str] | None = None, overwrite: bool = False) -> Path:
    """Write FaceShifter state dicts as a model file, atomically; the lower level of :func:`save_checkpoint`.

    Args:
        path: the ``.safetensors`` file to write.
        config: the config the state dicts were made for.
        parts: state dict per part (``aei`` and ``identity`` required; ``hear``, ``discriminator``).
        metadata: provenance strings kept in the header (source, licence, sha256, ...).
        overwrite: replace an existing file instead of refusing.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        CheckpointError: a part is unknown, missing, or does not fit ``config``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; choose another name or allow overwriting")
    for name in REQUIRED_PARTS:
        if name not in parts:
            raise CheckpointError(f"a model file needs the {name} network; parts given: {', '.join(parts)}")
    for name, state in parts.items():
        if name not in PARTS:
            raise CheckpointError(f"unknown model part {name!r}; expected some of {', '.join(PARTS)}")
        _check_state(name, state, _expected_state(name, config), str(path))
    return write_model_file(path, family=ModelBundle.family, config=config.to_dict(),
                            parts={n: parts[n] for n in PARTS if n in parts}, metadata=metadata,
                            overwrite=overwrite)


def save_checkpoint(path: str | Path, bundle: ModelBundle, *, metadata: Mapping[str, str] | None = None,
                    overwrite: bool = False) -> Path:
    """Save every network of ``bundle`` with its config and metadata (``metadata`` adds to
    ``bundle.metadata``) as one safetensors file, atomically. See :func:`write_checkpoint`."""
    return write_checkpoint(path, bundle.config, {n: m.state_dict() for n, m in bundle.parts().items()},
                            metadata={**bundle.metadata, **(metadata or {})}, overwrite=overwrite)


def is_model_file(path: str | Path) -> bool:
    """Whether ``path`` claims to be a vidswap model file: a safetensors file whose ``vidswap``
    header entry carries a format (a broken one included), as opposed to a foreign checkpoint or
    an imported state dict (whose entry holds provenance only). A file whose header cannot be read
    is not one."""
    from vidswap.models.safetensors_file import read_safetensors_header

    try:
        entry = read_safetensors_header(Path(path)).metadata.get(_HEADER_KEY)
    except CheckpointError:
        return False
    if entry is None:
        return False
    try:
        doc = json.loads(entry)
    except (json.JSONDecodeError, RecursionError):
        return True  # vidswap wrote the entry, so a model file whose header was damaged
    return not isinstance(doc, dict) or "format" in doc or "config" in doc


def read_model_header(path: str | Path) -> ModelHeader:
    """The header of a model file of any family, without loading tensors.

    Raises:
        InputError: the file does not exist.
        CheckpointError: it is not a valid safetensors file (header past the end, offsets that do
            not cover the data, ...) or not a vidswap model file.
    """
    from vidswap.models.safetensors_file import read_safetensors_header

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    header = read_safetensors_header(path).metadata
    if _HEADER_KEY not in header:
        raise CheckpointError(f"{path} is not a vidswap model file: its header has no {_HEADER_KEY!r} entry. "
                              "Foreign checkpoints must be converted first.")
    try:
        doc = json.loads(header[_HEADER_KEY])
        if not isinstance(doc, dict):
            raise TypeError("the header entry is not a JSON object")
        if doc.get("format") != FORMAT_VERSION:
            raise CheckpointError(f"{path} is a vidswap model file of format {doc.get('format')!r}; this "
                                  f"vidswap reads format {FORMAT_VERSION}")
        family = doc.get("family", DEFAULT_FAMILY)
        if not isinstance(family, str) or not isinstance(doc["config"], dict):
            raise TypeError("family must be a string and config an object")
        return ModelHeader(family=family, config=doc["config"], parts=tuple(doc["parts"]),
                           metadata=dict(doc["metadata"]))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable vidswap model header: {err}") from err
    except RecursionError as err:
        raise CheckpointError(f"{path}: unreadable vidswap model header: JSON nested too deeply") from err


def read_model_tensors(path: str | Path, *,
                       device: str | torch.device = "cpu") -> dict[str, dict[str, Tensor]]:
    """The tensors of a model file grouped by prefix (``aei.x`` -> ``{"aei": {"x": ...}}``), on ``device``.

    Raises:
        CheckpointError: not a valid safetensors file (its header is checked first).
    """
    from safetensors import SafetensorError, safe_open

    from vidswap.models.safetensors_file import read_safetensors_header

    read_safetensors_header(Path(path))
    grouped: dict[str, dict[str, Tensor]] = {}
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            for key in f.keys():
                prefix, _, rest = key.partition(".")
                tensor = f.get_tensor(key)
                # CPU tensors view the memory-mapped file at unaligned offsets; a copy gets the
                # allocator's alignment, so kernels (and results) match the saved model's exactly.
                grouped.setdefault(prefix, {})[rest] = tensor.clone() if tensor.device.type == "cpu" else tensor
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    return grouped


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Config, parts and metadata of a FaceShifter model file, from its header only.

    Raises:
        InputError: the file does not exist.
        CheckpointError: it is not a safetensors file, not a vidswap model file, or of another family.
    """
    header = read_model_header(path)
    if header.family != ModelBundle.family:
        raise CheckpointError(f"{path} is a {header.family!r} model, not a {ModelBundle.family!r} one")
    try:
        return CheckpointInfo(config=FaceShifterConfig.from_dict(header.config), parts=header.parts,
                              metadata=header.metadata)
    except (ConfigError, TypeError) as err:
        raise CheckpointError(f"{path}: unreadable vidswap model header: {err}") from err


def bundle_from_state(config: FaceShifterConfig, state: Mapping[str, Mapping[str, Tensor]], *,
                      metadata: Mapping[str, str], source: str) -> ModelBundle:
    """The networks of ``state`` (state dict per part), strictly: built on the meta device, they
    take the tensors as they are (no random initialisation, dtypes and device kept).

    Raises:
        CheckpointError: a part is unknown or missing, or its tensors are missing, unexpected
            or of the wrong shape (the message lists them; ``source`` names the file).
    """
    unknown = sorted(set(state) - set(PARTS))
    if unknown:
        raise CheckpointError(f"{source}: unexpected tensors under {', '.join(p + '.' for p in unknown)}; "
                              f"a model file holds {', '.join(PARTS)}")
    for name in REQUIRED_PARTS:
        if name not in state:
            raise CheckpointError(f"{source}: missing the {name} network (no {name}.* tensors)")
    modules: dict[str, nn.Module] = {}
    for name, part in state.items():
        with torch.device("meta"):
            module = build_part(name, config)
        _check_state(name, part, module.state_dict(), source)
        module.load_state_dict(part, strict=True, assign=True)
        modules[name] = module
    return _bundle(config, modules, metadata)


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> ModelBundle:
    """Load a FaceShifter model file written by :func:`save_checkpoint`, strictly, onto ``device``.

    The networks take the stored tensors as they are (see :func:`bundle_from_state`), so a
    save → load round trip is bit-exact.

    Raises:
        InputError: the file does not exist.
        CheckpointError: not a FaceShifter model file, or a network's tensors are missing,
            unexpected or of the wrong shape (the message lists them).
    """
    info = read_checkpoint_info(path)
    return bundle_from_state(info.config, read_model_tensors(path, device=device), metadata=info.metadata,
                             source=str(path))
