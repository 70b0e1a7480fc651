"""Command-line values laid over a pipeline file's data: ``{"encode.crf": 14}``.

Keys are dotted paths into the pipeline (``encode.crf``, ``output.path``, ``swaps.0.source``);
values are what the command line gave. They replace the file's values before validation, so
they are checked exactly like the file's. Text values are marked as
:class:`~vidswap.pipeline.spec.CommandLineValue`, so relative paths in them are relative to
the working directory, as a user typing them expects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidswap.errors import ConfigError
from vidswap.pipeline.values import CommandLineValue
from vidswap.pipeline.yamlload import Loc

__all__ = ["apply_options", "parse_key"]


def parse_key(key: str) -> Loc:
    """``"swaps.0.source"`` -> ``("swaps", 0, "source")``.

    Raises:
        ConfigError: the key is empty or has an empty part.
    """
    parts = key.split(".")
    if not key or not all(parts):
        raise ConfigError(f"option {key!r}: expected a dotted key such as encode.crf")
    return tuple(int(part) if part.isdigit() else part for part in parts)


def _mark(value: Any) -> Any:
    if isinstance(value, Path | str):
        return CommandLineValue(value)
    if isinstance(value, Mapping):
        return {str(k): _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value


def apply_options(data: dict[str, Any], options: Mapping[str, Any],
                  labels: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[Loc, str]]:
    """Lay dotted-key values over pipeline data.

    A value written in short form in the file (``output: out.mp4``) is taken as its ``path``
    when an option sets a key below it (``output.overwrite``).

    Args:
        data: the file's data (not changed).
        options: dotted key -> value.
        labels: dotted key -> how the user wrote the option (``--crf``), for messages.

    Returns:
        The new data, and key path -> option label for every value set, so a validation
        error below that path names the option instead of a line of the file.

    Raises:
        ConfigError: a key walks into a list with a bad index, or through a value that is
            neither a mapping nor a short-form path.
    """
    labels = labels or {}
    data = copy.deepcopy(data)
    origins: dict[Loc, str] = {}
    for key, value in options.items():
        loc, label = parse_key(key), labels.get(key, key)
        node: Any = data
        for depth, part in enumerate(loc[:-1]):
            child = _child(node, part, label)
            if child is None or isinstance(child, str):
                # Missing, or a short form (``output: out.mp4``): open it up as a mapping.
                child = {} if child is None else {"path": child}
                node[_key(node, part)] = child
            elif not isinstance(child, dict | list):
                raise ConfigError(f"option {label}: {'.'.join(map(str, loc[:depth + 1]))} is "
                                  f"{child!r}, which has no key {loc[depth + 1]!r}")
            node = child
        _child(node, loc[-1], label)
        node[_key(node, loc[-1])] = _mark(value)
        origins[loc] = label
    return data, origins


def _key(node: dict[str, Any] | list[Any], part: str | int) -> str | int:
    """Lists take indices; mappings take text keys (a source set may be named "1")."""
    return part if isinstance(node, list) else str(part)


def _child(node: dict[str, Any] | list[Any], part: str | int, label: str) -> Any:
    """The value at ``part`` of ``node`` (None if absent); checks list indices."""
    if isinstance(node, list):
        if not isinstance(part, int) or part >= len(node):
            raise ConfigError(f"option {label}: expected an index below {len(node)} into the "
                              f"list, found {part!r}")
        return node[part]
    return node.get(str(part))
