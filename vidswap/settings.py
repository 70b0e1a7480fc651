"""Stage settings declared once: each stage's frozen dataclass is the single source of its
settings' names, types, defaults and bounds.

A stage declares its bounds in the field annotations, the way pydantic reads them::

    @dataclass(frozen=True)
    class SmootherConfig:
        lag: Annotated[int, Strict(), Field(ge=0, le=120)] = 8

        def __post_init__(self) -> None:
            check_settings(self, "smoothing")

The pipeline schema (:mod:`vidswap.pipeline.spec`) uses the dataclass itself as its YAML
section, so pydantic checks a file's values against these bounds (reporting every problem with
its line); :func:`check_settings` applies the same bounds to a dataclass built in Python.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, Literal, get_args, get_origin, get_type_hints

import annotated_types

from vidswap.errors import ConfigError

__all__ = ["check_settings"]

#: annotated-types bound -> (its symbol, its test).
_BOUNDS = {annotated_types.Ge: (">=", operator.ge), annotated_types.Gt: (">", operator.gt),
           annotated_types.Le: ("<=", operator.le), annotated_types.Lt: ("<", operator.lt)}


def check_settings(config: Any, section: str) -> None:
    """Check a settings dataclass against the bounds and choices of its annotations.

    Args:
        config: a dataclass instance whose fields are annotated as in the module docstring.
        section: its pipeline section (``detector``), for the setting's name in errors.

    Raises:
        ConfigError: a value outside its bounds or choices, naming the setting
            (``detector.long_side``).
    """
    for name, (choices, bounds) in _rules(type(config)).items():
        value = getattr(config, name)
        if value is None:
            continue
        setting = f"{section}.{name}"
        if choices is not None and value not in choices:
            raise ConfigError(f"{setting}: expected one of {', '.join(map(str, choices))}, found {value!r}",
                              setting=setting)
        for bound in bounds:
            symbol, holds = _BOUNDS[type(bound)]
            limit = getattr(bound, type(bound).__name__.lower())
            if not holds(value, limit):
                raise ConfigError(f"{setting}: expected a value {symbol} {limit}, found {value!r}", setting=setting)


_Rules = dict[str, tuple[tuple[Any, ...] | None, list[Any]]]
_RULES: dict[type, _Rules] = {}


def _rules(cls: type) -> _Rules:
    """Per field of the dataclass ``cls``: its Literal choices (or None) and its bounds
    (annotated-types), read from its annotations once."""
    if cls not in _RULES:
        hints = get_type_hints(cls, include_extras=True)
        _RULES[cls] = {field.name: _rules_of(hints[field.name]) for field in dataclasses.fields(cls)}
    return _RULES[cls]


def _rules_of(hint: Any) -> tuple[tuple[Any, ...] | None, list[Any]]:
    choices: tuple[Any, ...] | None = None
    bounds: list[Any] = []
    args = get_args(hint)
    if get_origin(hint) is Literal:
        return args, bounds
    if args and hasattr(hint, "__metadata__"):  # Annotated[T, ...]
        choices, bounds = _rules_of(args[0])
        for extra in hint.__metadata__:
            for item in getattr(extra, "metadata", [extra]):  # pydantic's FieldInfo holds a list
                if type(item) in _BOUNDS:
                    bounds.append(item)
        return choices, bounds
    for arg in args:  # Optional[...] and other unions: the first with rules
        found = _rules_of(arg)
        if found[0] is not None or found[1]:
            return found
    return choices, bounds
