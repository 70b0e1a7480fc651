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

__all__ = ["Loc", "YamlDocument", "read_yaml"]

#: A key path into the data: mapping keys (str) and list indices (int).
Loc = tuple[str | int, ...]


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: pipeline file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the pipeline file ({err})") from err
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
    if not isinstance(root, dict):
        found = "an empty file" if root is None else f"a {type(root).__name__}"
        raise ConfigError(f"{path}:1:1: expected a mapping of pipeline settings (version: 1, "
                          f"input: …), found {found}")
    positions: dict[Loc, tuple[int, int]] = {(): (1, 1)}
    return YamlDocument(path=path, data=_plain(root, (), positions), positions=positions)


def _plain(node: Any, loc: Loc, positions: dict[Loc, tuple[int, int]]) -> Any:
    """Copy ruamel's round-trip nodes into plain types, recording each key's position."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            name = str(key)
            here: Loc = (*loc, name)
            line_col = node.lc.key(key) if hasattr(node, "lc") else None
            if line_col is not None:
                positions[here] = (line_col[0] + 1, line_col[1] + 1)
            out[name] = _plain(value, here, positions)
        return out
    if isinstance(node, list):
        items = []
        for index, value in enumerate(node):
            here = (*loc, index)
            line_col = node.lc.item(index) if hasattr(node, "lc") else None
            if line_col is not None:
                positions[here] = (line_col[0] + 1, line_col[1] + 1)
            items.append(_plain(value, here, positions))
        return items
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
