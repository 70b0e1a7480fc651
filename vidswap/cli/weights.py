"""``vidswap weights``: list, fetch, verify, remove, locate and import model weights.

Data goes to stdout (``--json`` gives one JSON document); progress and notes go to stderr.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click

from vidswap.cli.errors import set_flags
from vidswap.weights.cache import CacheSettings, cached_names, check_writable, read_record, resolve, verify
from vidswap.weights.ghost import GHOST_IDENTITY
from vidswap.weights.manifest import DEFAULT_MANIFEST, Manifest, Role, load_manifest

if TYPE_CHECKING:
    from vidswap.models.config import IdentityBackbone

__all__ = ["weights"]

#: ``--role`` choices, each to the manifest role it names.
_ROLES: dict[str, Role] = {role: role for role in get_args(Role)}
#: ``--backbone`` choices (the convertible identity backbones), each to the backbone it names.
_BACKBONES: dict[str, IdentityBackbone] = {"iresnet50": "iresnet50", "iresnet100": "iresnet100"}


@dataclass(frozen=True)
class _Context:
    cache: CacheSettings
    manifest: Manifest


pass_context = click.make_pass_decorator(_Context)


@click.group()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="VIDSWAP_HOME",
              metavar="DIR", help="Cache folder (default: $VIDSWAP_HOME, else ~/.cache/vidswap).")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=DEFAULT_MANIFEST, show_default="vidswap's weights/manifest.yaml", metavar="YAML",
              help="Weights manifest to use, e.g. a studio's own with internal mirrors.")
@click.pass_context
def weights(ctx: click.Context, home: Path | None, manifest_path: Path) -> None:
    """List, fetch, verify and import model weights.

    Weights live in a cache folder; the manifest names every known file with its URL,
    checksum and licence. A model reference elsewhere in vidswap is a manifest name, a
    cache name (an imported file) or a path.
    """
    set_flags({"name": "--as", "force": "--force", "commercial_only": "--commercial-only"})
    cache = CacheSettings(home=home) if home else CacheSettings.from_environ(os.environ)
    ctx.obj = _Context(cache=cache, manifest=load_manifest(manifest_path))


@weights.command("list", short_help="Show known and imported weights: role, licence, cached.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@pass_context
def list_(obj: _Context, as_json: bool) -> None:
    """Show every known and imported weight file: role, licence, and whether it is cached."""
    rows = _rows(obj)
    if as_json:
        click.echo(json.dumps({"home": str(obj.cache.home), "defaults": list(obj.manifest.defaults),
                               "weights": rows}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("name", "role", "status", "licence"):
        table.add_column(column, overflow="fold")
    for row in rows:
        name = row["name"] + (" *" if row["default"] else "")
        licence = row["licence"]
        if row["provenance"]:
            licence += (f"\n  imported from {row['provenance']['source']}"
                        f"\n  original sha256 {row['provenance']['original_sha256']}")
        table.add_row(name, row["role"] or "-", row["status"], licence)
    console = Console()
    console.print(table)
    console.print(f"* default set for `vidswap run`. Cache: {obj.cache.weights_dir}; "
                  "`vidswap weights path NAME` prints a file's path, `list --json` gives URLs and "
                  "checksums.",
                  style="dim")


@weights.command(short_help="Download weights into the cache, checked and resumable.")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--defaults", "with_defaults", is_flag=True,
              help="Also fetch the default set that `vidswap run` needs.")
@click.option("--offline", is_flag=True,
              help="Never touch the network: fail with how to get what is missing.")
@click.option("--force", is_flag=True, help="Download again even when already cached.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--commercial-only", is_flag=True,
              help="Refuse entries whose licence does not allow commercial use (research-only, non-commercial).")
@pass_context
def fetch(obj: _Context, names: tuple[str, ...], with_defaults: bool, offline: bool, force: bool,
          quiet: bool, commercial_only: bool) -> None:
    """Download manifest entries into the cache, checked against size and sha256.

    Each entry's licence is printed before anything is downloaded. An interrupted download
    resumes on the next fetch. Prints each entry's path.
    """
    from vidswap.weights.fetch import fetch as fetch_entry
    from vidswap.weights.fetch import refuse_non_commercial

    wanted = list(dict.fromkeys([*names, *(obj.manifest.defaults if with_defaults else ())]))
    if not wanted:
        raise click.UsageError("name at least one entry (see `vidswap weights list`) or pass --defaults")
    if commercial_only:
        refuse_non_commercial(wanted, obj.manifest)
    entries = [obj.manifest.get(name) for name in wanted]
    cached = set(cached_names(obj.cache))
    downloads = [entry for entry in entries if entry.urls and (force or entry.name not in cached) and not offline]
    if downloads:
        check_writable(obj.cache)  # a cache that cannot take them is said first
    for entry in downloads:
        click.echo(f"downloading {entry.name} ({entry.file}): licence {entry.licence}", err=True)
    for name in wanted:
        resolved = fetch_entry(name, cache=obj.cache, manifest=obj.manifest, offline=offline, force=force,
                               progress=not quiet)
        click.echo(f"{name}: licence {resolved.licence}", err=True)
        click.echo(str(resolved.path))


@weights.command("verify", short_help="Check cached files against their sizes and sha256.")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of lines.")
@pass_context
def verify_(obj: _Context, names: tuple[str, ...], as_json: bool) -> None:
    """Check cached files against their recorded (and published) sizes and sha256.

    Without NAME, checks everything in the cache. An entry whose sha256 the manifest does not
    pin is "unpinned": its files match the sha256 recorded when it first arrived, which was
    trusted on first use. Exits with status 1 when a file is missing or changed, or a record
    is unreadable.
    """
    targets = names or cached_names(obj.cache)
    results = [verify(name, cache=obj.cache, manifest=obj.manifest) for name in targets]
    if as_json:
        click.echo(json.dumps({"home": str(obj.cache.home),
                               "results": [{**asdict(r), "problems": list(r.problems)} for r in results]},
                              indent=2))
    else:
        for result in results:
            pinned = (f" (matches the sha256 recorded on arrival, {result.recorded_sha256}; the manifest "
                      f"pins none)" if result.status == "unpinned" else "")
            click.echo(f"{result.name}: {result.status}{pinned}")
            for problem in result.problems:
                click.echo(f"  {problem}")
        if not results:
            click.echo(f"nothing cached in {obj.cache.weights_dir}", err=True)
    if any(result.status not in ("ok", "unpinned") for result in results):
        click.get_current_context().exit(1)


@weights.command(short_help="Delete a cached weight and its record.")
@click.argument("name")
@pass_context
def remove(obj: _Context, name: str) -> None:
    """Delete the cache entry NAME (its files and record), saying what was removed and the space freed.

    A manifest entry is fetched again on the next run that needs it.

    \b
    Example:
      vidswap weights remove ghost_arcface_backbone
    """
    from vidswap.weights.cache import remove as remove_entry

    folder = obj.cache.entry_dir(name)
    freed = remove_entry(obj.cache, name, manifest=obj.manifest)
    click.echo(f"removed {name} ({folder}): {_size(freed)} freed")


def _size(count: int) -> str:
    """A byte count for people: 1.5 MB, 230 kB, 12 bytes."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


@weights.command(short_help="Print the file a model reference resolves to.")
@click.argument("name")
@pass_context
def path(obj: _Context, name: str) -> None:
    """Print the file (or pack folder) that NAME resolves to; fails when it is not cached."""
    click.echo(str(resolve(name, cache=obj.cache, manifest=obj.manifest).path))


@weights.command("import", short_help="Copy a file into the cache with its provenance.")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--as", "name", required=True, metavar="NAME",
              help="Cache name; a manifest name when FILE is that entry's original (checked against it).")
@click.option("--licence", default=None, help="Licence of FILE, stored with it (files not in the manifest).")
@click.option("--role", type=click.Choice(list(_ROLES)), default=None,
              help="What FILE is for (files not in the manifest).")
@click.option("--force", is_flag=True, help="Replace an entry of that name already in the cache.")
@pass_context
def import_(obj: _Context, file: Path, name: str, licence: str | None, role: str | None, force: bool) -> None:
    """Copy FILE into the cache as NAME, with its source, licence and sha256.

    A torch checkpoint (.pth/.pt/.ckpt/.bin) is read safely (weights_only) and stored as
    safetensors; a safetensors file gains the provenance in its metadata; ONNX is copied.
    Prints the cached path.
    """
    from vidswap.weights.importer import import_file

    resolved = import_file(file, name=name, cache=obj.cache, manifest=obj.manifest, licence=licence,
                           role=_ROLES[role] if role is not None else None, force=force)
    click.echo(str(resolved.path))


@weights.command(short_help="Convert ghost or ArcFace ONNX weights to vidswap files.")
@click.option("--from", "layout", type=click.Choice(["ghost", "arcface-onnx"]), required=True,
              help="What SOURCE is: a ghost AEI-Net G_unet_*.pth, or an insightface recognition ONNX model.")
@click.argument("source", metavar="SOURCE")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="OUT.safetensors", help="File to write.")
@click.option("--identity", default=GHOST_IDENTITY, show_default=True, metavar="REF",
              help="ghost: the ArcFace backbone its AEI-Net was trained with (name or path).")
@click.option("--backbone", type=click.Choice(list(_BACKBONES)), default=None,
              help="arcface-onnx: the IResNet SOURCE is (found from its blocks when not given).")
@click.option("--offline", is_flag=True,
              help="Never download: SOURCE and --identity must be cached or paths.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@pass_context
def convert(obj: _Context, layout: str, source: str, output: Path, identity: str, backbone: str | None,
            offline: bool, force: bool) -> None:
    """Convert a community checkpoint into a vidswap file with its provenance.

    SOURCE is a manifest name (fetched on first use), a cache name or a path.
    `--from ghost` writes a model file (ghost's AEI-Net plus the --identity backbone) that
    `vidswap run` loads, and warns when --identity is not the backbone ghost's AEI-Net was
    trained with; `--from arcface-onnx` writes an IResNet state dict (e.g. from buffalo_l's
    w600k_r50) for training. Unknown or mismatching keys are refused, naming the first.
    """
    from vidswap.weights.convert import convert_arcface_file, convert_ghost_file
    from vidswap.weights.fetch import ensure

    weights_in = ensure(source, cache=obj.cache, manifest=obj.manifest, offline=offline)
    if layout == "ghost":
        identity_in = ensure(identity, cache=obj.cache, manifest=obj.manifest, offline=offline)
        convert_ghost_file(weights_in, identity_in, output, overwrite=force, manifest=obj.manifest,
                           cache=obj.cache, warn=lambda problem: click.echo(f"warning: {problem}", err=True))
        click.echo(f"licence: {weights_in.licence}; identity encoder: {identity_in.licence}", err=True)
    else:
        name, _ = convert_arcface_file(weights_in, output, overwrite=force,
                                       backbone=_BACKBONES[backbone] if backbone is not None else None)
        click.echo(f"{name}; licence: {weights_in.licence}", err=True)
    click.echo(str(output))


def _rows(obj: _Context) -> list[dict]:
    """One row per manifest entry, then per imported entry, for `list`."""
    from vidswap.errors import CheckpointError, WeightsError
    from vidswap.weights.metadata import read_provenance

    rows = []
    names = list(obj.manifest.names) + [n for n in cached_names(obj.cache) if n not in obj.manifest]
    for name in names:
        entry = obj.manifest.get(name) if name in obj.manifest else None
        try:
            record, unreadable = read_record(obj.cache, name), False
        except WeightsError:
            record, unreadable = None, True
        try:
            resolved = resolve(name, cache=obj.cache, manifest=obj.manifest)
        except WeightsError:
            resolved = None
        if entry is not None and entry.package_resource is not None:
            status = "package" if resolved else "missing package"
        else:
            status = "corrupt record" if unreadable else "cached" if record else "not cached"
        provenance = None
        if resolved is not None and resolved.path.suffix == ".safetensors" and resolved.path.is_file():
            try:
                found = read_provenance(resolved.path)
            except CheckpointError:
                found = None  # a damaged file: `verify` says what is wrong with it
            provenance = asdict(found) if found else None
        rows.append({
            "name": name,
            "role": (entry.role if entry else record.role if record else None),
            "status": status,
            "default": name in obj.manifest.defaults,
            "licence": entry.licence if entry else record.licence if record else "unknown",
            "format": entry.format if entry else record.format if record else None,
            "url": entry.url if entry else None,
            "path": str(resolved.path) if resolved else None,
            "origin": record.origin if record else None,
            "source": record.source if record else (entry.source if entry else None),
            "sha256": record.original_sha256 if record else (entry.sha256 if entry else None),
            "checksum": record.checksum if record else ("manifest" if entry and entry.sha256 else None),
            "provenance": provenance,
        })
    return rows
