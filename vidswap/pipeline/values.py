"""Value types of the pipeline schema: paths resolved against the pipeline file, frame
ranges, frame rates, and the marker for values typed on the command line.

Each is an ``Annotated`` type with a plain validator whose errors are one clear sentence
(a ``PydanticCustomError``), and a serializer giving the text a user would write.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, Strict, ValidationInfo
from pydantic_core import PydanticCustomError

from vidswap.errors import ConfigError
from vidswap.pipeline.ranges import FrameRangeSpec, parse_frame_range

__all__ = ["CommandLineValue", "SpecProblem", "OutPath", "InPath", "FrameRange", "Fps", "Bool",
           "BatchSize", "paths_in"]


class CommandLineValue(str):
    """A text value that came from the command line: a relative path in it is relative to
    the working directory, not to the pipeline file."""


class SpecProblem(ValueError):
    """A validation problem at a key below the model that raised it.

    Args:
        message: what is wrong and what to do.
        *loc: key path, relative to the model raising it, of the offending value.
    """

    def __init__(self, message: str, *loc: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


def _path(value: Any, info: ValidationInfo) -> Path:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("path_type", "expected a file path, found {found}",
                                  {"found": repr(value)})
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        context = None if isinstance(value, CommandLineValue) else info.context
        base = Path(context["base_dir"]) if context else Path.cwd()
        path = base / path
    # normpath, not resolve(): keep the user's symlinked mounts as written.
    return Path(os.path.normpath(path))


def _existing(value: Any, info: ValidationInfo) -> Path:
    path = _path(value, info)
    if not path.exists():
        raise PydanticCustomError("missing_file", "file not found: {path} (written {written})",
                                  {"path": str(path), "written": repr(str(value))})
    return path


def _frame_range(value: Any) -> FrameRangeSpec:
    if isinstance(value, FrameRangeSpec):
        return value
    try:
        return parse_frame_range(value)
    except ConfigError as err:
        raise PydanticCustomError("frame_range", "{problem}", {"problem": str(err)}) from err


_NTSC = {23.976: Fraction(24000, 1001), 29.97: Fraction(30000, 1001),
         47.952: Fraction(48000, 1001), 59.94: Fraction(60000, 1001),
         119.88: Fraction(120000, 1001)}


def _fps(value: Any) -> Fraction:
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, float) and round(value, 3) in _NTSC:
            rate = _NTSC[round(value, 3)]
        else:
            rate = Fraction(value) if isinstance(value, int | str | Fraction) else Fraction(
                str(value))
    except (ValueError, ZeroDivisionError, TypeError) as err:
        raise PydanticCustomError("fps", "expected a frame rate such as 24, 25, 29.97 or "
                                  "24000/1001, found {found}", {"found": repr(value)}) from err
    if rate <= 0:
        raise PydanticCustomError("fps", "expected a frame rate above 0, found {found}",
                                  {"found": repr(value)})
    return rate


def _batch_size(value: Any) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise PydanticCustomError("batch_size", "expected 'auto' or a whole number above 0, found "
                              "{found}", {"found": repr(value)})


#: An absolute path (relative ones are resolved); need not exist (outputs).
OutPath = Annotated[Path, PlainValidator(_path), PlainSerializer(str)]
#: An absolute path to a file or folder that exists.
InPath = Annotated[Path, PlainValidator(_existing), PlainSerializer(str)]
FrameRange = Annotated[FrameRangeSpec, PlainValidator(_frame_range), PlainSerializer(str)]
Fps = Annotated[Fraction, PlainValidator(_fps), PlainSerializer(str)]
Bool = Annotated[bool, Strict()]
#: A whole number above 0, or "auto".
BatchSize = Annotated[int | str, PlainValidator(_batch_size)]


def paths_in(*keys: str) -> BeforeValidator:
    """Metadata for a section given as a mapping (a stage's settings dataclass): its ``keys``
    hold paths, resolved as :data:`OutPath` resolves them (relative to the pipeline file, or
    to the working directory for command-line values)."""

    def resolve(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        return {key: _path(item, info) if key in keys and item is not None else item
                for key, item in value.items()}

    return BeforeValidator(resolve)
