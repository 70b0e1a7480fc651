"""Library errors as command-line messages: the setting an error names becomes the option that
sets it.

The library names settings by their pipeline key (``model.device``) or parameter
(``segments``), whatever they came from. A command records which of its options set which
setting (:func:`set_flags`); an error about one of those settings then names the option as the
user knows it (``--device``). A setting the user wrote in a YAML file keeps its key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import click

from vidswap.errors import VidswapError

__all__ = ["set_flags", "message"]

_FLAGS = "vidswap.flags"


def set_flags(flags: Mapping[str, str]) -> None:
    """Record, for the running command, the option that sets each setting (``{"model.device":
    "--device"}``)."""
    context = click.get_current_context()
    context.meta.setdefault(_FLAGS, {}).update(flags)


def message(err: VidswapError, context: click.Context) -> str:
    """The error's message, naming the option instead of the setting where the command set one."""
    text, setting = str(err), err.setting
    flag = context.meta.get(_FLAGS, {}).get(setting) if setting else None
    if setting is None or flag is None or flag.isupper():  # an argument (INPUT) is named by its value already
        return text
    return re.sub(rf"(?<![\w.-]){re.escape(setting)}(?![\w-]|\.\w)", flag, text, count=1)
