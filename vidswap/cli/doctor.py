"""``vidswap doctor``: what this installation can do, and what ``vidswap run`` still needs.

Checks Python, torch and CUDA, the FFmpeg inside PyAV (each encoder is opened on a tiny
frame, so a listed but unusable encoder such as NVENC without an NVIDIA driver shows as
unusable), onnxruntime's execution providers, and the weights cache; exits with status 1
when `vidswap run` cannot work.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from vidswap.errors import WeightsError
from vidswap.io.media import DEFAULT_CODEC, IMAGE_FORMATS, VIDEO_CODECS
from vidswap.weights.cache import CacheSettings, cached_names, package_file
from vidswap.weights.manifest import DEFAULT_MANIFEST, Manifest, load_manifest

__all__ = ["ENCODERS", "DECODERS", "DoctorReport", "doctor", "gather"]

#: The encoders vidswap writes with: its video codecs, then its image types' encoders.
ENCODERS = tuple(dict.fromkeys([*VIDEO_CODECS, *(f.encoder for f in IMAGE_FORMATS.values())]))
#: Decoders for the usual camera and mezzanine inputs, then vidswap's image types.
DECODERS = tuple(dict.fromkeys(["h264", "hevc", "prores", "dnxhd", "ffv1", "vp9", "av1", "mpeg4",
                                *(f.decoder for f in IMAGE_FORMATS.values())]))
#: What `vidswap run` cannot do without (encoder of the default output, decoder of most inputs).
_RUN_NEEDS_ENCODER = DEFAULT_CODEC
_RUN_NEEDS_DECODER = "h264"


@dataclass(frozen=True)
class Missing:
    """Something `vidswap run` needs and lacks, with how to get it.

    Attributes:
        blocking: `run` cannot work without it (False: weights `run` fetches on first use).
    """

    what: str
    fix: str
    blocking: bool = True


@dataclass(frozen=True)
class DoctorReport:
    """Everything ``vidswap doctor`` found (printed as text or as one JSON document)."""

    python: str
    platform: str
    torch: str | None
    cuda: str | None
    gpus: list[str]
    pyav: str | None
    ffmpeg: str | None
    encoders: dict[str, str]
    decoders: dict[str, bool]
    onnxruntime: str | None
    onnx_providers: list[str]
    cache: str
    weights_cached: list[str]
    defaults: list[str]
    missing: list[Missing] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """Whether `vidswap run` has everything it needs."""
        return not self.missing

    @property
    def runnable(self) -> bool:
        """Whether `vidswap run` can work (what it lacks, it fetches on first use)."""
        return not any(item.blocking for item in self.missing)


def _torch() -> tuple[str | None, str | None, list[str]]:
    """(torch version, CUDA version when usable, GPU names)."""
    try:
        import torch
    except ImportError:
        return None, None, []
    if not torch.cuda.is_available():
        return torch.__version__, None, []
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return torch.__version__, torch.version.cuda, gpus


def _encoder_state(name: str) -> str:
    """``ok``, ``absent`` (not in this FFmpeg build) or ``unusable: why`` (opening it failed)."""
    from fractions import Fraction

    import av

    from vidswap.io.codecs import video_encoder

    try:
        codec = av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - PyAV raises several types for an unknown codec
        return "absent"
    context = video_encoder(name)
    context.width, context.height = 64, 64
    context.pix_fmt = codec.video_formats[0].name if codec.video_formats else "yuv420p"
    context.time_base = Fraction(1, 25)
    if name == "libx265":
        context.options = {"x265-params": "log-level=none"}  # x265 logs to stderr from C otherwise
    try:
        context.open()
    except Exception as err:  # noqa: BLE001 - the reason is what the user needs to see
        return f"unusable: {err}"
    return "ok"


def _decoder_present(name: str) -> bool:
    import av

    try:
        av.codec.Codec(name, "r")
    except Exception:  # noqa: BLE001
        return False
    return True


def _pyav() -> tuple[str | None, str | None, dict[str, str], dict[str, bool]]:
    try:
        import av
    except ImportError:
        return None, None, {}, {}
    ffmpeg = getattr(av, "ffmpeg_version_info", None)
    return (av.__version__, ffmpeg, {name: _encoder_state(name) for name in ENCODERS},
            {name: _decoder_present(name) for name in DECODERS})


def _onnxruntime() -> tuple[str | None, list[str]]:
    try:
        import onnxruntime
    except ImportError:
        return None, []
    return onnxruntime.__version__, list(onnxruntime.get_available_providers())


def _unwritable(home: Path) -> str | None:
    """Why files cannot be written under ``home`` (checked on its nearest existing folder, nothing
    created), or None when they can."""
    existing = home
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def gather(*, cache: CacheSettings, manifest: Manifest) -> DoctorReport:
    """Run every check; nothing is downloaded or changed."""
    from vidswap.weights.fetch import how_to_get, missing_defaults

    torch_version, cuda, gpus = _torch()
    pyav, ffmpeg, encoders, decoders = _pyav()
    ort_version, providers = _onnxruntime()
    missing = []
    if torch_version is None:
        missing.append(Missing("torch", "pip install 'torch>=2.3,<2.14'"))
    if pyav is None:
        missing.append(Missing("PyAV", "pip install 'av>=18.1,<20'"))
    else:
        if encoders.get(_RUN_NEEDS_ENCODER) != "ok":
            missing.append(Missing(f"{_RUN_NEEDS_ENCODER} encoder",
                                   "install a PyAV wheel from PyPI (its FFmpeg includes libx264), or choose "
                                   "another codec in the pipeline's output"))
        if not decoders.get(_RUN_NEEDS_DECODER):
            missing.append(Missing(f"{_RUN_NEEDS_DECODER} decoder", "install a PyAV wheel from PyPI"))
    if ort_version is None:
        missing.append(Missing("onnxruntime", "pip install onnxruntime (onnxruntime-gpu for CUDA)"))
    for name in manifest.defaults:  # shipped inside a package (the default detector): nothing to fetch
        entry = manifest.get(name)
        if entry.package_resource is not None:
            try:
                package_file(entry)
            except WeightsError as err:
                missing.append(Missing(f"weights {name} ({entry.role}, licence: {entry.licence})", str(err)))
    to_fetch = missing_defaults(cache=cache, manifest=manifest)
    for name in to_fetch:
        entry = manifest.get(name)
        missing.append(Missing(f"weights {name} ({entry.role}, licence: {entry.licence}), fetched on the first run",
                               f"vidswap weights fetch {name}  (offline: {how_to_get(entry)})", blocking=False))
    if to_fetch and (unwritable := _unwritable(cache.home)) is not None:
        missing.append(Missing(f"a writable weights cache ({unwritable})",
                               "make it writable, or set VIDSWAP_HOME to a folder you can write to"))
    return DoctorReport(python=platform.python_version(), platform=platform.platform(), torch=torch_version,
                        cuda=cuda, gpus=gpus, pyav=pyav, ffmpeg=ffmpeg, encoders=encoders, decoders=decoders,
                        onnxruntime=ort_version, onnx_providers=providers, cache=str(cache.weights_dir),
                        weights_cached=list(cached_names(cache)), defaults=list(manifest.defaults),
                        missing=missing)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="VIDSWAP_HOME",
              metavar="DIR", help="Cache folder (default: $VIDSWAP_HOME, else ~/.cache/vidswap).")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=DEFAULT_MANIFEST, show_default="vidswap's weights/manifest.yaml", metavar="YAML",
              help="Weights manifest whose default set `vidswap run` needs.")
def doctor(as_json: bool, home: Path | None, manifest_path: Path) -> None:
    """Check the installation: Python, torch, CUDA, FFmpeg codecs in PyAV, onnxruntime, weights.

    Ends with what `vidswap run` still lacks and how to get it. Nothing is downloaded.
    Exits with status 1 when `vidswap run` cannot work (an encoder or decoder it needs, torch,
    onnxruntime, the default detector, a writable cache for the weights it must fetch).
    """
    cache = CacheSettings(home=home) if home else CacheSettings.from_environ(os.environ)
    report = gather(cache=cache, manifest=load_manifest(manifest_path))
    if as_json:
        click.echo(json.dumps({**asdict(report), "ready": report.ready, "runnable": report.runnable}, indent=2))
        _exit(report)
        return
    gpu = (f"CUDA {report.cuda}: {', '.join(report.gpus)}" if report.cuda
           else "no CUDA device (CPU only, slow)")
    lines = [
        f"python       {report.python} ({sys.executable})",
        f"torch        {report.torch or 'missing'}; {gpu}",
        f"PyAV         {report.pyav or 'missing'} (FFmpeg {report.ffmpeg or '?'})",
        *(f"  encoder    {name}: {state}" for name, state in report.encoders.items()),
        "  decoders   " + ", ".join(f"{name}: {'ok' if ok else 'absent'}"
                                    for name, ok in report.decoders.items()),
        f"onnxruntime  {report.onnxruntime or 'missing'}; "
        f"providers: {', '.join(report.onnx_providers) or '-'}",
        f"weights      {report.cache}: {', '.join(report.weights_cached) or 'nothing cached'}",
        f"  defaults   {', '.join(report.defaults)}",
    ]
    click.echo("\n".join(lines))
    if report.ready:
        click.echo("ready: `vidswap run` has everything it needs")
    else:
        click.echo("missing for `vidswap run`:")
        for item in report.missing:
            click.echo(f"  - {item.what}\n      {item.fix}")
    _exit(report)


def _exit(report: DoctorReport) -> None:
    """Exit status 1 when `vidswap run` cannot work, naming each blocker on stderr."""
    blockers = [item.what for item in report.missing if item.blocking]
    if blockers:
        click.echo(f"error: `vidswap run` cannot work: missing {'; '.join(blockers)}", err=True)
        click.get_current_context().exit(1)
