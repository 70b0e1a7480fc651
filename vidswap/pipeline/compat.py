"""Versions of the pipeline format and the functions that upgrade old files.

Every pipeline file (and every job's resolved pipeline) says ``version: N``. When the format
changes, ``CURRENT_VERSION`` goes up by one and ``UPGRADES[N]`` turns the raw data of version
``N`` into version ``N + 1``; :func:`upgrade` chains them, so a file of any earlier version
still loads. Upgrades work on the plain data read from YAML, before validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from vidswap.errors import ConfigError

__all__ = ["CURRENT_VERSION", "UPGRADES", "upgrade"]

#: The version this vidswap writes and validates.
CURRENT_VERSION: Final = 1

#: version N -> function turning version-N data into version N + 1 data (a new dict).
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def upgrade(data: dict[str, Any], version: int) -> dict[str, Any]:
    """Bring version-``version`` pipeline data up to ``CURRENT_VERSION``.

    Args:
        data: the raw mapping read from the file (not changed).
        version: the version the file declares.

    Returns:
        The data in the current format, its ``version`` set to ``CURRENT_VERSION``.

    Raises:
        ConfigError: the version is newer than this vidswap, or no upgrade path exists.
    """
    if version > CURRENT_VERSION:
        raise ConfigError(f"version {version} is newer than this vidswap reads (up to "
                          f"{CURRENT_VERSION}); upgrade vidswap")
    while version < CURRENT_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise ConfigError(f"version {version} is no longer supported (this vidswap reads "
                              f"versions {min(UPGRADES, default=CURRENT_VERSION)}-{CURRENT_VERSION})")
        data = step(dict(data))
        version += 1
    return {**data, "version": CURRENT_VERSION}
