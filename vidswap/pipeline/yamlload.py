"""Read a YAML file into plain data, remembering the line and column of every key.

Validation errors point at a key path such as ``("swaps", 1, "source")``; the positions kept
here turn that path into ``FILE:LINE:COL``, so every message names where to fix it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.scalarbool import ScalarBoolean

from vidswap.errors import ConfigError

__all__ = ["Loc", "YamlDocument", "read_yaml", "MAX_BYTES", "MAX_VALUES", "MAX_DEPTH"]

#: A key path into the data: mapping keys (str) and list indices (int).
Loc = tuple[str | int, ...]

# Bounds on a pipeline file, far above any real one (a few KiB, a few hundred values), so a
# hostile or broken file (a "billion laughs" of nested aliases, a 50 MB dump) is refused at once
# instead of taking minutes and gigabytes.
#: Largest pipeline file read, in bytes.
MAX_BYTES = 1 << 20
#: Most values (mappings, lists and scalars) the file may hold once its aliases are expanded.
MAX_VALUES = 100_000
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 64


@dataclass(frozen=True, kw_only=True)
class YamlDocument:
    """A YAML file's top-level mapping as plain Python data, with key positions.

    Attributes:
        path: the file it was read from.
        data: the mapping, as dict / list / str / int / float / bool / None.
        positions: key path -> (line, column), both 1-based, of the key (or list item).
    """

    path: Path
    data: dict[str, Any]
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def position(self, loc: Loc) -> tuple[int, int]:
        """(line, column) of the deepest part of ``loc`` present in the file."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.positions:
                return self.positions[loc[:end]]
        return (1, 1)

    def where(self, loc: Loc) -> str:
        """``FILE:LINE:COL`` of the deepest part of ``loc`` present in the file."""
        line, col = self.position(loc)
        return f"{self.path}:{line}:{col}"


def read_yaml(path: Path) -> YamlDocument:
    """Read a YAML (or JSON) file whose top level is a mapping.

    Args:
        path: the file.

    Returns:
        The plain data and the position of each key.

    Raises:
        ConfigError: the file is missing or unreadable, is not valid YAML (``FILE:LINE:COL``
            of the problem), has a duplicate key, or its top level is not a mapping.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: pipeline file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the pipeline file ({err})") from err
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: a pipeline file is at most {MAX_BYTES // 1024} KiB; this one is larger "
                          f"(is it the right file?)")
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join(str(err.problem or err.context or "invalid YAML").split())
        hint = ""
        if "mapping values are not allowed" in problem:
            hint = "; quote values that contain ': ' or end with ':', e.g. frames: \"120:\""
        raise ConfigError(f"{where}: invalid YAML: {problem}{hint}") from err
    except YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(err).split())}") from err
    except RecursionError as err:
        raise ConfigError(f"{path}: invalid YAML: nested deeper than a pipeline can be (at most {MAX_DEPTH} "
                          f"levels)") from err
    if not isinstance(root, dict):
        found = "an empty file" if root is None else f"a {type(root).__name__}"
        raise ConfigError(f"{path}:1:1: expected a mapping of pipeline settings (version: 1, "
                          f"input: …), found {found}")
    positions: dict[Loc, tuple[int, int]] = {(): (1, 1)}
    return YamlDocument(path=path, data=_Plain(path, positions).copy(root, ()), positions=positions)


class _Plain:
    """Copies ruamel's round-trip nodes into plain types, recording each key's position, and
    refuses a file that expands past :data:`MAX_VALUES` values or :data:`MAX_DEPTH` levels
    (aliases are expanded: each use is a copy)."""

    def __init__(self, path: Path, positions: dict[Loc, tuple[int, int]]) -> None:
        self.path, self.positions, self.values = path, positions, 0

    def copy(self, node: Any, loc: Loc) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise ConfigError(f"{self.path}: holds more than {MAX_VALUES} values once its aliases are expanded; "
                              f"a pipeline needs far fewer (aliases nested in aliases?)")
        if len(loc) > MAX_DEPTH:
            raise ConfigError(f"{self.path}: {'.'.join(map(str, loc[:3]))}…: nested deeper than {MAX_DEPTH} "
                              f"levels; a pipeline needs far fewer")
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                name = str(key)
                here: Loc = (*loc, name)
                self._remember(here, node.lc.key(key) if hasattr(node, "lc") else None)
                out[name] = self.copy(value, here)
            return out
        if isinstance(node, list):
            items = []
            for index, value in enumerate(node):
                here = (*loc, index)
                self._remember(here, node.lc.item(index) if hasattr(node, "lc") else None)
                items.append(self.copy(value, here))
            return items
        return _scalar(node)

    def _remember(self, loc: Loc, line_col: tuple[int, int] | None) -> None:
        if line_col is not None:
            self.positions[loc] = (line_col[0] + 1, line_col[1] + 1)


def _scalar(node: Any) -> Any:
    """A ruamel scalar as the plain type it stands for."""
    # ruamel's scalars subclass int / float / str; plain types keep validation strict (its
    # ScalarBoolean is an int, which would otherwise pass for a number).
    if isinstance(node, ScalarBoolean):
        return bool(node)
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    if isinstance(node, datetime.date):
        return node.isoformat()
    return node
