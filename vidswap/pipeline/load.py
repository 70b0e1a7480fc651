"""Load a pipeline: read the YAML, upgrade old versions, lay options over it, validate.

Every problem becomes one line ``FILE:LINE:COL: key.path: problem`` (or
``FILE: option --crf (encode.crf): problem`` for a value from the command line), collected
in one :class:`~vidswap.errors.SpecError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from vidswap.errors import ConfigError, SpecError, VidswapError
from vidswap.pipeline.compat import CURRENT_VERSION, upgrade
from vidswap.pipeline.overrides import apply_options
from vidswap.pipeline.spec import PipelineSpec
from vidswap.pipeline.values import SpecProblem
from vidswap.pipeline.yamlload import Loc, YamlDocument, read_yaml

__all__ = ["load_pipeline", "pipeline_from_options", "validate_data"]


def load_pipeline(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None, *,
                  option_names: Mapping[str, str] | None = None) -> PipelineSpec:
    """Read, check and resolve a pipeline file.

    Args:
        path: the YAML (or JSON) file. Relative paths inside it are relative to its folder.
        overrides: dotted key -> value from the command line (``{"encode.crf": 14}``); they
            win over the file and are validated the same way. Relative paths in them are
            relative to the working directory.
        option_names: dotted key -> the option as the user typed it (``{"encode.crf":
            "--crf"}``), so messages name it.

    Returns:
        The validated pipeline: absolute paths, every default filled in.

    Raises:
        SpecError: (a :class:`ConfigError`) one line per problem, each naming the file, line,
            column and key, or the option.
        ConfigError: the file is missing, not YAML, or of an unknown version.

    Example:
        ``load_pipeline("pipelines/hamilton_single.yaml", {"encode.crf": 12}).encode.crf``
        is 12 whatever the file says.
    """
    doc = read_yaml(Path(path))
    data, origins = apply_options(_upgraded(doc), overrides or {}, option_names)
    return validate_data(data, origins, doc, Path(os.path.abspath(doc.path)).parent)


def pipeline_from_options(options: Mapping[str, Any], *,
                          option_names: Mapping[str, str] | None = None) -> PipelineSpec:
    """Build a pipeline from command-line values alone (``vidswap run INPUT --source …``).

    Args:
        options: dotted key -> value, as for :func:`load_pipeline`'s ``overrides``
            (``{"input": "shot.mov", "sources.source": ["me.jpg"], "output.path": …}``).
        option_names: dotted key -> the option as typed, for messages.

    Returns:
        The validated pipeline; relative paths are relative to the working directory.

    Raises:
        SpecError: one line per problem, naming the option (``option --crf (encode.crf): …``)
            or the missing key.
    """
    data, origins = apply_options({"version": CURRENT_VERSION}, options, option_names)
    return validate_data(data, origins, None, Path.cwd())


def validate_data(data: dict[str, Any], origins: Mapping[Loc, str], doc: YamlDocument | None,
                  base_dir: Path) -> PipelineSpec:
    """Validate plain pipeline data (relative paths against ``base_dir``); problems become one
    SpecError whose lines name the YAML position from ``doc``/``origins`` where known."""
    try:
        return PipelineSpec.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as err:
        described = sorted(_describe(e, doc, origins) for e in _primary(err.errors()))
        raise SpecError([text for _, text in described]) from err


def _upgraded(doc: YamlDocument) -> dict[str, Any]:
    version = doc.data.get("version")
    where = doc.where(("version",))
    if version is None:
        raise ConfigError(f"{where}: version: missing; start the file with "
                          f"`version: {CURRENT_VERSION}` (the pipeline format it is written in)")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigError(f"{where}: version: expected a whole number such as "
                          f"{CURRENT_VERSION}, found {version!r}")
    try:
        return upgrade(doc.data, version)
    except ConfigError as err:
        raise ConfigError(f"{where}: version: {err}") from err


def _primary(errors: list[Any]) -> list[Any]:
    """Drop "too short" errors that only echo a failed item below them (pydantic counts
    valid items: a one-photo set whose photo is missing reads as empty)."""
    def echoes(error: Any) -> bool:
        loc = tuple(error["loc"])
        return error["type"] == "too_short" and any(
            tuple(other["loc"])[:len(loc)] == loc and len(other["loc"]) > len(loc)
            for other in errors)
    return [error for error in errors if not echoes(error)]


def _describe(error: Any, doc: YamlDocument | None,
              origins: Mapping[Loc, str]) -> tuple[tuple[int, int], str]:
    """One line for one pydantic error (where, which key, what is wrong), with its position
    in the file for sorting (options first)."""
    loc: Loc = tuple(error["loc"])
    message = error["msg"]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, SpecProblem):
        loc, message = loc + cause.loc, cause.message
    elif isinstance(cause, VidswapError) and cause.setting:
        # A stage's own settings check (``detector.long_side: …``): at that key of this section.
        name = cause.setting.rsplit(".", 1)[-1]
        loc, message = loc + (name,), str(cause).removeprefix(f"{cause.setting}: ")
    elif error["type"] == "value_error":
        message = str(cause) if cause is not None else message
    elif error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        message = _unknown_key(loc)
    elif error["type"] == "missing":
        message = "required key missing"
    elif not isinstance(error["input"], dict | list) and error["type"] not in (
            "missing_file", "frame_range", "fps", "batch_size", "path_type"):
        message = f"{message}, found {error['input']!r}"
    key = ".".join(map(str, loc)) or "(top level)"
    file = "" if doc is None else f"{doc.path}: "
    for end in range(len(loc), 0, -1):
        if loc[:end] in origins:
            label, set_key = origins[loc[:end]], ".".join(map(str, loc[:end]))
            option = label if label == set_key else f"{label} ({set_key})"
            detail = "" if key == set_key else f"{key}: "
            return (0, 0), f"{file}option {option}: {detail}{message}"
    if doc is None:
        return (0, 0), f"{key}: {message}"
    return doc.position(loc), f"{doc.where(loc)}: {key}: {message}"


def _unknown_key(loc: Loc) -> str:
    """'unknown key' with the keys allowed there and the closest one."""
    model: type | None = PipelineSpec
    for part in loc[:-1]:
        fields = _fields(model)
        if isinstance(part, str) and part in fields:
            model = _model_in(fields[part])
        # Other parts are list indices and source names: the model stays the element's.
    message = f"unknown key {loc[-1]!r}"
    if model is None:
        return message
    allowed = list(_fields(model))
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{message}{hint} (expected one of: {', '.join(allowed)})"


def _fields(model: type | None) -> dict[str, Any]:
    """A section's keys and their annotations: a pydantic model's, or a settings dataclass's."""
    if model is None:
        return {}
    if issubclass(model, BaseModel):
        return {name: field.annotation for name, field in model.model_fields.items()}
    if dataclasses.is_dataclass(model):
        return {field.name: field.type for field in dataclasses.fields(model)}
    return {}


def _model_in(annotation: Any) -> type | None:
    """The first section type (pydantic model or dataclass) inside a type annotation
    (``tuple[X, ...] | None`` -> X)."""
    if isinstance(annotation, type) and (issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
