"""The package's errors: one base class, subclasses that also inherit the matching builtin.

Library code raises these; only ``vidswap.cli`` turns them into a message and an exit code.
A message says what was expected, what was found and what to do, naming the file or key.
"""

from __future__ import annotations

__all__ = [
    "VidswapError",
    "ConfigError",
    "InputError",
    "MediaError",
    "OutputExistsError",
    "CheckpointError",
    "WeightsError",
    "DownloadError",
    "NoFaceError",
    "ShapeError",
    "SpecError",
    "TrainingError",
    "JobLockedError",
    "JobChangedError",
]


class VidswapError(Exception):
    """Base class of every error vidswap raises on purpose.

    Args:
        *args: the message.
        setting: the setting the error is about, by its pipeline key (``model.device``,
            ``output.overwrite``) or command parameter (``segments``), where there is one; the
            message names it so, and the CLI adds the option that sets it.
    """

    def __init__(self, *args: object, setting: str | None = None) -> None:
        super().__init__(*args)
        self.setting = setting


class ConfigError(VidswapError, ValueError):
    """A setting, YAML key or option value is invalid."""


class InputError(VidswapError, FileNotFoundError):
    """An input file is missing or unreadable."""


class MediaError(VidswapError, ValueError):
    """A media file exists but cannot be decoded or encoded as asked."""


class OutputExistsError(VidswapError, FileExistsError):
    """The output path exists (or is the input) and overwriting was not asked for."""


class CheckpointError(VidswapError, ValueError):
    """A checkpoint does not fit the network: wrong keys, shapes or unsafe content."""


class WeightsError(VidswapError, LookupError):
    """A weight file is unknown, missing from the cache or fails its checksum."""


class DownloadError(VidswapError, ConnectionError):
    """A download failed or was refused (offline mode, network error, checksum mismatch)."""


class NoFaceError(VidswapError, ValueError):
    """A photo that must show exactly one face shows none or several."""


class ShapeError(VidswapError, ValueError):
    """A tensor given to a network has the wrong shape (batch, channels or size)."""


class SpecError(ConfigError):
    """A pipeline file (or the options laid over it) has problems.

    Args:
        problems: one line each, ``FILE:LINE:COL: key.path: problem``; the message is the
            first, with a count of the others.
    """

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' * (more > 1)}; `vidswap validate` lists all)"
        super().__init__(self.problems[0] + (suffix if more else ""))

    def __reduce__(self) -> tuple[type, tuple[tuple[str, ...]]]:
        return (type(self), (self.problems,))


class TrainingError(VidswapError, RuntimeError):
    """Training cannot go on (e.g. a loss became NaN or infinite)."""


class JobLockedError(VidswapError, BlockingIOError):
    """A job (or one of its segments) is being rendered by another process."""


class JobChangedError(VidswapError, ValueError):
    """A job's input, source photo or weight file changed since the job was made."""
