"""``vidswap run INPUT_OR_YAML``: render a face swap (options alone, or a pipeline file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from vidswap.cli.errors import set_flags
from vidswap.cli.validate import _parse_setting
from vidswap.faces.detect import BACKENDS, DetectorConfig
from vidswap.io.layers import DEFAULT_LAYER_FORMAT, LAYER_FORMAT_CHOICES
from vidswap.io.media import (
    CODEC_CHOICES,
    CRF_RANGE,
    DEFAULT_CODEC,
    PROFILE_CHOICES,
    VIDEO_CODECS,
    codec_info,
    is_sequence_pattern,
    sequence_stem,
)
from vidswap.jobs.executors import EXECUTORS

__all__ = ["run", "default_output", "options_from_cli"]

_PIPELINE_SUFFIXES = (".yaml", ".yml", ".json")


def default_output(source: Path, codec: str | None = None) -> Path:
    """``NAME.swapped.EXT`` beside ``source`` (never ``source`` itself); EXT is the input's when
    that container can hold ``codec`` (default libx264), else the codec's usual one (.mp4 for
    H.264/HEVC, .mov for ProRes and DNxHR, .mkv for FFV1)."""
    containers = codec_info(codec or DEFAULT_CODEC).containers
    suffix = source.suffix.lower()
    if is_sequence_pattern(source) or suffix not in containers:
        suffix = containers[0]
    return source.with_name(f"{sequence_stem(source) or 'output'}.swapped{suffix}")


def _batch_size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    """``auto`` or a whole number above 0."""
    if value is None or value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise click.BadParameter(f"expected auto or a whole number above 0, found {value!r}")
    return int(value)


#: Options that set one pipeline key each: parameter -> (key, option).
_SIMPLE = {"detector": ("detector.backend", "--detector"), "frames": ("frames", "--frames"),
           "device": ("model.device", "--device"), "batch_size": ("model.batch_size", "--batch-size"),
           "codec": ("encode.codec", "--codec"), "crf": ("encode.crf", "--crf"),
           "preset": ("encode.preset", "--preset"), "profile": ("encode.profile", "--profile"),
           "matte": ("matte", "--matte"), "turnover": ("turnover.dir", "--turnover"),
           "turnover_format": ("turnover.format", "--turnover-format")}
#: ``--profile``'s help: each codec with profiles and its profiles, from the table.
_PROFILE_HELP = "; ".join(f"{c.name}: {', '.join(c.profiles)}" for c in VIDEO_CODECS.values() if c.profiles)
#: Options that messages name as the remedy for their setting, given or not.
_REMEDIES = {"output.overwrite": "--overwrite", "overwrite": "--overwrite", "force": "--force",
             "face": "--source-face", "model.path": "--model", "frames": "--frames", "executor": "--executor",
             "address": "--address", "commercial_only": "--commercial-only"}


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix in (".safetensors", ".pth", ".pt", ".onnx")


def options_from_cli(params: dict[str, Any], *, from_file: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The command's options as dotted pipeline keys (and the option each came from).

    Only options given on the command line appear, so a pipeline file's values stay unless
    an option overrides them.
    """
    values: dict[str, Any] = {}
    names: dict[str, str] = {}

    def put(key: str, value: Any, option: str) -> None:
        values[key], names[key] = value, option

    sources = params["source"]
    if sources:
        face = params["source_face"]
        photos = [str(p) if face is None else {"path": str(p), "face": face} for p in sources]
        put("sources", {"source": photos}, "--source")
    if params["target_ref"]:
        put("swaps", [{"target": {"photos": [str(p) for p in params["target_ref"]]}, "source": "source"}],
            "--target-ref")
    elif sources and from_file:
        put("swaps", [{"target": "all", "source": "source"}], "--source")
    if params["output"] is not None:
        put("output.path", str(params["output"]), "--output")
    if params["model"] is not None:
        key, other = ("model.path", "model.name") if _looks_like_path(params["model"]) else (
            "model.name", "model.path")
        put(key, params["model"], "--model")
        put(other, None, "--model")  # the option replaces the file's choice, whichever key it used
    for param, (key, option) in _SIMPLE.items():
        if params[param] is not None:
            put(key, str(params[param]) if isinstance(params[param], Path) else params[param], option)
    if params["no_refine"]:
        put("model.refine", False, "--no-refine")
    if params["overwrite"]:
        put("output.overwrite", True, "--overwrite")
    if params["watermark"]:
        put("watermark", True, "--watermark")
    for key, value in params["settings"].items():
        put(key, value, f"--set {key}")
    return values, names


def _plan(spec: Any, schedule: Any, weights: list[str]) -> list[str]:
    video = schedule.info.video
    frames = schedule.frames
    lines = [
        f"input:    {spec.input.path} ({video.width}x{video.height}, {video.frame_count} frames, "
        f"{float(video.rate):.3f} fps)",
        f"frames:   {frames} ({frames.stop - frames.start} frames)",
        f"output:   {spec.output.path or '-'}"
        + (f" + sequence {spec.output.sequence}" if spec.output.sequence else "")
        + (f" + matte {spec.matte}" if spec.matte else "")
        + (f" + turnover {spec.turnover.dir} ({spec.turnover.format})" if spec.turnover else ""),
        f"encode:   {spec.encode.codec}" + (f" crf {spec.encode.crf}" if spec.encode.crf is not None else "")
        + (f" preset {spec.encode.preset}" if spec.encode.preset else "")
        + (f" profile {spec.encode.profile}" if spec.encode.profile else "") + f", audio {spec.encode.audio}",
        f"model:    {spec.model.weights or 'defaults of the weights manifest'} (refine {spec.model.refine}, "
        f"device {spec.model.device}, batch {spec.model.batch_size}, precision {spec.model.precision})",
        f"detector: {spec.detector.backend} (long side {spec.detector.long_side}, "
        f"score >= {spec.detector.score_threshold})",
        *[f"weights:  {line}" for line in weights],
        *[f"sources:  {name} <- {', '.join(p.path.name for p in photos)}"
          for name, photos in spec.sources.items()],
        *[f"swap:     {s.target.select}"
          + (f" ({', '.join(p.path.name for p in s.target.photos)})" if s.target.photos else "")
          + f" -> {s.source}" + (f" in frames {s.frames}" if s.frames else "") for s in spec.swaps],
        *[f"override: frames {o.frames}: " + ", ".join(o.changes()) for o in spec.overrides],
        "steps:    weights -> check -> embed sources -> faces (decode, detect, track, select, smooth) -> "
        "render (decode, align + swap, composite, encode)",
    ]
    return lines


def _weights_status(spec: Any) -> list[str]:
    """Which weight files are there, without fetching anything."""
    import os

    from vidswap.errors import WeightsError
    from vidswap.weights.cache import CacheSettings, resolve
    from vidswap.weights.manifest import load_manifest

    cache, manifest = CacheSettings.from_environ(os.environ), load_manifest()
    refs = list(manifest.defaults) if spec.model.weights is None else [spec.model.weights]
    lines = []
    for ref in refs:
        try:
            found = resolve(ref, cache=cache, manifest=manifest)
            lines.append(f"{found.name}: {found.path} (licence: {found.licence})")
        except WeightsError:
            lines.append(f"{ref}: not in the cache; fetched on the first run (or --offline stops there)")
    return lines


@click.command()
@click.argument("input_or_pipeline", metavar="INPUT_OR_YAML", type=click.Path(path_type=Path))
@click.option("-s", "--source", multiple=True, type=click.Path(dir_okay=False, path_type=Path), metavar="PHOTO",
              help="Photo of the identity to put in; repeat for several photos of one person (their "
                   "embeddings are averaged).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Output video [default: INPUT.swapped.mp4 beside the input].")
@click.option("--model", metavar="NAME_OR_FILE",
              help="Swap model: a weights-manifest or cache name, or a model file [default: the manifest's "
                   "default set, fetched on first use].")
@click.option("--detector", type=click.Choice(BACKENDS),
              help=f"Face detector backend [default: {DetectorConfig().backend}].")
@click.option("--target-ref", multiple=True, type=click.Path(dir_okay=False, path_type=Path), metavar="PHOTO",
              help="Swap only faces that look like this person (repeatable) [default: every face].")
@click.option("--source-face", type=click.IntRange(min=0), metavar="N",
              help="Which face of each source photo to use when it shows several (0 = leftmost).")
@click.option("--frames", metavar="RANGE",
              help="Frames to render: 120-480 (inclusive), 120:, :300, or timecodes 00:00:05:00-00:00:10:00.")
@click.option("--device", metavar="DEVICE", help="auto (CUDA when present), cpu, cuda or cuda:N [default: auto].")
@click.option("--batch-size", metavar="N|auto", callback=_batch_size,
              help="Face crops per swap batch, or auto [default: auto].")
@click.option("--no-refine", is_flag=True, help="Skip HEAR-Net (faster; occlusions are not restored).")
@click.option("--codec", type=click.Choice(CODEC_CHOICES),
              help=f"Video codec of the output [default: {DEFAULT_CODEC}].")
@click.option("--crf", type=click.IntRange(*CRF_RANGE),
              help="Constant quality for x264/x265/nvenc, lower is better.")
@click.option("--preset", help="Encoder speed preset (x264/x265: ultrafast … veryslow; nvenc: p1 … p7).")
@click.option("--profile", type=click.Choice(PROFILE_CHOICES), metavar="PROFILE",
              help=f"Quality profile ({_PROFILE_HELP}) [default: from the input's depth and chroma].")
@click.option("--matte", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the soft face mask as a lossless greyscale video (.mkv or .avi) or image pattern "
                   "(jobs too: each segment renders its matte, the mux joins them).")
@click.option("--turnover", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Also write a VFX turnover for a compositor: the face as a premultiplied RGBA layer, its matte, "
                   "the occlusion estimate (when the model refines), tracking data, a Nuke script and a manifest "
                   "(jobs too).")
@click.option("--turnover-format", type=click.Choice(LAYER_FORMAT_CHOICES),
              help=f"Layer files of the turnover: EXR half or float, 16-bit TIFF or PNG [default: "
                   f"{DEFAULT_LAYER_FORMAT}].")
@click.option("--watermark", is_flag=True, help="Burn a visible 'SYNTHETIC' mark into every frame.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (the input is never replaced).")
@click.option("--offline", is_flag=True, help="Never download weights; stop if any is missing.")
@click.option("--commercial-only", is_flag=True,
              help="Refuse weights whose licence does not allow commercial use (research-only, non-commercial).")
@click.option("--dry-run", is_flag=True,
              help="Check inputs, outputs and settings, print the plan, render nothing.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", callback=_parse_setting,
              help="Override a pipeline setting by its dotted key, value read as YAML "
                   "(e.g. --set mask.blur=0.05); repeatable.")
@click.option("--no-progress", is_flag=True, help="No progress bars (logs and CI).")
@click.option("--job", "job_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Job directory (resume, range re-renders, render farm) [default: OUTPUT.vidswap-job].")
@click.option("--segment-frames", type=click.IntRange(min=1), metavar="N",
              help="Frames per segment of a new job [default: 48].")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="Where segments render: in this process, or on a Ray cluster.")
@click.option("--address", metavar="ADDR",
              help="Ray cluster to use with --executor ray [default: start a local one].")
@click.option("--force", is_flag=True,
              help="Render a job whose input, photos or weights changed since it was made.")
@click.option("--no-job", is_flag=True, help="Stream straight to the output, without a job directory "
                                              "(no resume; image-sequence outputs always do).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (or, with --dry-run, the resolved "
                                                      "pipeline) as one JSON document on stdout.")
def run(input_or_pipeline: Path, **params: Any) -> None:
    """Swap faces in a video: INPUT_OR_YAML is a video (or image sequence) or a pipeline file.

    \b
    Examples:
      vidswap run shot.mp4 --source me.jpg --source me2.jpg
      vidswap run shot.mov -s me.jpg --target-ref actor.jpg --frames 120-480 --codec prores_ks -o out.mov
      vidswap run pipelines/hamilton_single.yaml --set encode.crf=12
      vidswap run shot.mov -s me.jpg --codec dnxhd --profile dnxhr_hqx -o out.mov --matte matte.mkv
      vidswap run plate.%04d.dpx --set input.fps=24 -s me.jpg -o out.mov --turnover turnover/sh010

    Options override the pipeline file's values. The output carries a metadata tag saying it
    holds synthetic faces made with vidswap. Every render to a video leaves its QC report
    beside it (OUTPUT.report.html; vidswap report remakes a job's).

    \b
    A render is a job in a directory (default OUTPUT.vidswap-job): run it again to resume
    after a crash; on an existing job (INPUT_OR_YAML = the job directory, or the same
    input/YAML), --frames RANGE with changed settings re-renders only that range:
      vidswap run shot.mov.vidswap-job --frames 1200-1350 --set mask.blur=0.06
    """
    from vidswap.jobs.job import find_job, plan_run
    from vidswap.pipeline import load_pipeline, pipeline_from_options
    from vidswap.pipeline.runner import run_pipeline
    from vidswap.pipeline.session import RenderSession, RunOptions, check_plan

    job_dir = find_job(input_or_pipeline) if input_or_pipeline.is_dir() or input_or_pipeline.name == "job.json" \
        else None
    from_file = input_or_pipeline.suffix.lower() in _PIPELINE_SUFFIXES
    values, names = options_from_cli(params, from_file=from_file or job_dir is not None)
    set_flags({**_REMEDIES, **names})
    spec = None
    if job_dir is not None:
        pass  # the job's own pipeline, with the command line's changes (plan_run)
    elif from_file:
        spec = load_pipeline(input_or_pipeline, values, option_names=names)
    else:
        if not params["source"]:
            raise click.UsageError("give the photo of the person to put in: --source PHOTO (repeatable)")
        values["input.path"], names["input.path"] = str(input_or_pipeline), "INPUT"
        if params["output"] is None and "output.path" not in values:
            values["output.path"] = str(default_output(input_or_pipeline, params["codec"]))
            names["output.path"] = "--output"
        spec = pipeline_from_options(values, option_names=names)
    plan = plan_run(spec, job=job_dir or params["job_dir"], no_job=params["no_job"], values=values, names=names,
                    frames=params["frames"])
    spec = plan.spec
    for override in plan.kept:
        click.echo(f"keeping the job's override of frames {override.frames} ({', '.join(override.changes())})",
                   err=True)
    if params["dry_run"]:
        schedule = check_plan(spec, replace=plan.resumes)
        if params["offline"]:  # missing (or, --commercial-only, refused) weights: it stops
            RenderSession(spec, RunOptions(offline=True, progress=False, commercial_only=params["commercial_only"]),
                          schedule=schedule)
        if params["as_json"]:
            click.echo(spec.to_json())
            return
        for line in _plan(spec, schedule, _weights_status(spec)):
            click.echo(line)
        click.echo("dry run: nothing rendered", err=True)
        return

    def licence(weights: Any) -> None:
        click.echo(f"weights {weights.name}: licence {weights.licence} (from {weights.source})", err=True)

    def downloading(entry: Any) -> None:
        click.echo(f"downloading {entry.name} ({entry.file}): licence {entry.licence}", err=True)

    options = RunOptions(offline=params["offline"], progress=not params["no_progress"], on_weights=licence,
                         on_download=downloading, commercial_only=params["commercial_only"])
    if plan.job is not None:
        _run_job(spec, plan.job, params, options)
        return
    summary = run_pipeline(spec, options)
    if params["as_json"]:
        click.echo(json.dumps({"output": str(summary.output) if summary.output else None,
                               "frames": summary.frames, "faces_swapped": summary.faces_swapped,
                               "frames_without_face": summary.frames_without_face, "tracks": summary.tracks,
                               "seconds": round(summary.seconds, 3), "fps": round(summary.fps, 3),
                               "device": summary.device}))
    click.echo(f"done: {summary.frames} frames, {summary.faces_swapped} faces swapped, "
               f"{summary.frames_without_face} frames without a face, {summary.seconds:.1f} s "
               f"({summary.fps:.1f} frames/s on {summary.device}) -> {summary.output or spec.output.sequence}",
               err=True)
    if summary.output is not None:
        from vidswap.cli.report import leave_report

        leave_report(summary.output, stream=(spec, summary))


def _run_job(spec: Any, job_dir: Path, params: dict[str, Any], options: Any) -> None:
    from vidswap.jobs.executors import make_executor
    from vidswap.jobs.job import run_job

    executor = make_executor(params["executor"], address=params["address"], progress=options.progress)
    summary = run_job(spec, job_dir, segment_frames=params["segment_frames"], force=params["force"],
                      executor=executor, options=options)
    if params["as_json"]:
        click.echo(json.dumps({"output": str(summary.output) if summary.output else None, "job": str(summary.job),
                               "segments": summary.segments, "rendered": summary.rendered,
                               "frames": summary.frames, "faces_swapped": summary.faces_swapped,
                               "frames_without_face": summary.frames_without_face, "analysed": summary.analysed,
                               "seconds": round(summary.seconds, 3), "fps": round(summary.fps, 3)}))
    click.echo(f"done: job {summary.job}: {len(summary.rendered)} of {summary.segments} segments rendered "
               f"({summary.frames} frames, {summary.faces_swapped} faces swapped, {summary.frames_without_face} "
               f"frames without a face{'' if summary.analysed else ', stored face analysis reused'}), "
               f"{summary.seconds:.1f} s ({summary.fps:.1f} frames/s) -> {summary.output}", err=True)
    if summary.output is not None:
        from vidswap.cli.report import leave_report

        leave_report(summary.output, summary.state)
