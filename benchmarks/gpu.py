"""The GPU check in one command: swap throughput and precision error, a 1080p run, its I/O floor.

    python benchmarks/gpu.py --save                  # on a CUDA machine: paper preset, ~8 minutes
    python benchmarks/gpu.py --device cpu --quick    # CPU smoke run, tiny preset, under ~2 minutes

(``benchmarks/gpu.sh`` is the device-machine wrapper: it installs the carried wheels first.)

Sections, each row reporting its own failure (a missing NVENC, bf16 unsupported) while the rest go on:

- ``crops``: crops/s of the swap (:class:`~vidswap.pipeline.swap.Swapper`, the render's own) at each
  batch size in fp32, fp16 and bf16, AEI-Net alone and with HEAR-Net refinement, and each
  precision's error against a strict fp32 reference (TF32 off) in 8-bit levels of the output
  crops (mean / p99 / max of |difference| × 127.5, unrounded). The fp32 rows run with torch's
  defaults (on CUDA, cuDNN may use TF32), so their error is TF32's.
- ``floor``: decode + encode alone on the clip (``VideoReader`` -> ``VideoWriter``, audio copied),
  per codec: the I/O floor of a run.
- ``run``: the real render path (:func:`~vidswap.pipeline.runner.run_pipeline`, random weights of
  the preset, refinement on, one face) per codec (x264 at the codec's default preset, and
  ``h264_nvenc`` where that encoder opens), and run ÷ floor.

Every row records its peak memory: ``torch.cuda.max_memory_allocated`` on CUDA (reset per row),
and the process's peak resident set (RSS, sampled; it includes what earlier rows left resident).

The clip: ``--clip PATH``, or ``auto``: the shared ``crowd_1080p.mp4`` (``$VIDSWAP_SHARED``,
``../shared``; the pipeline's detector, the largest face; at most its 105 frames) when present,
else ``generated``: a 1080p clip from ``tests/io/media.py:make_clip`` looped by packet copy to
``--frames``, whose one "face" every frame comes from the tests' ``StubDetector`` at fixed
landmarks (no detection cost). The output says which.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks.common import environment, time_call, write_json  # noqa: E402
from benchmarks.pipeline import PeakMemory  # noqa: E402

PRECISIONS = ("fp32", "fp16", "bf16")
#: The 1080p shared clip (see ``../shared/media/MANIFEST.md``).
SHARED_CLIP = Path("media/videos/crowd_1080p.mp4")
SHARED_SOURCE = Path("media/photos/obama.jpg")
#: Where the generated clip's one face sits, as fractions of width and height: eyes 154 px apart
#: at 1080p, in the five-point template's proportions.
STUB_LANDMARKS = np.array([[0.46, 0.42], [0.54, 0.42], [0.50, 0.52], [0.467, 0.58], [0.533, 0.58]], np.float32)
RESULTS = ROOT / "benchmarks" / "results"
RUN_NOTE = ("run_pipeline, refinement on, one face; seconds: the whole run (prepare, sources, face pass, render); "
            "render_fps: the render step alone; run_over_floor: seconds / the same codec's floor")


@dataclass
class Peak:
    """Peak memory of one measured block, in MiB (``gpu`` on CUDA only)."""

    rss: float = 0.0
    gpu: float | None = None


@contextmanager
def peak_memory(device: torch.device) -> Iterator[Peak]:
    """Measure the peak memory of the block: the CUDA allocator's peak (reset first) and the RSS."""
    peak = Peak()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    with PeakMemory() as rss:
        yield peak
    peak.rss = rss.peak / 2**20
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak.gpu = torch.cuda.max_memory_allocated(device) / 2**20


@dataclass
class Section:
    """Rows of one section; a failing row keeps its error text and the section goes on."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def attempt(self, row: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            row.update(fn())
        except Exception as err:  # noqa: BLE001 - reported in its row; the other rows still run
            row["error"] = f"{type(err).__name__}: {err}".splitlines()[0][:300]
            if os.environ.get("VIDSWAP_BENCH_TRACE"):
                traceback.print_exc()
        self.rows.append(row)
        return row


# --- crops ------------------------------------------------------------------------------------

def crop_batch(batch: int, size: int, seed: int) -> torch.Tensor:
    """Seeded face-like crops in [-1, 1]: smooth random shapes plus fine noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.rand(batch, 3, 16, 16, generator=g) * 2 - 1, size=(size, size),
                           mode="bicubic", align_corners=False)
    return (coarse + 0.05 * torch.randn(batch, 3, size, size, generator=g)).clamp(-1, 1)


@contextmanager
def strict_fp32() -> Iterator[None]:
    """Plain fp32 matmuls and convolutions (no TF32) inside the block."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def level_error(y: torch.Tensor, reference: torch.Tensor) -> dict[str, float | int]:
    """|y - reference| in 8-bit levels of crops in [-1, 1]: mean, p99, max over the finite values,
    and how many are not finite (an fp16 overflow)."""
    diff = ((y.float() - reference.float()).abs() * 127.5).flatten().cpu().numpy()
    finite = diff[np.isfinite(diff)]
    if finite.size == 0:
        return {"mean": -1.0, "p99": -1.0, "max": -1.0, "non_finite": int(diff.size)}
    return {"mean": float(finite.mean()), "p99": float(np.percentile(finite, 99)), "max": float(finite.max()),
            "non_finite": int(diff.size - finite.size)}


def bench_crops(bundle: Any, device: torch.device, batches: list[int], *, warmup: int, repeats: int) -> Section:
    """Crops/s and error against strict fp32 for every precision, refinement and batch size."""
    from vidswap.pipeline.swap import Swapper

    section = Section("crops")
    swappers = {p: Swapper(bundle, refine=True, device=device, precision=p) for p in PRECISIONS}
    size, cfg = bundle.crop_size, bundle.config
    for batch in batches:
        x = crop_batch(batch, size, seed=batch).to(device)
        with torch.inference_mode():
            z = bundle.embed(crop_batch(batch, size, seed=1000 + batch).to(device))
            z = F.normalize(z, dim=-1) if cfg.id_normalized else z
        for refine in (False, True):
            with strict_fp32():
                reference = swappers["fp32"](x, z, refine=refine).images
            for precision in PRECISIONS:
                row: dict[str, Any] = {"precision": precision, "refine": refine, "batch": batch}

                def measure(p: str = precision, r: bool = refine, x: torch.Tensor = x, z: torch.Tensor = z,
                            reference: torch.Tensor = reference) -> dict[str, Any]:
                    if p == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
                        raise RuntimeError("bf16 is not supported on this GPU")
                    swapper, last = swappers[p], []

                    def call() -> None:
                        last[:] = [swapper(x, z, refine=r).images]

                    with peak_memory(device) as peak:
                        timing = time_call(call, device, warmup=warmup, repeats=repeats)
                    return {"crops_per_s": x.shape[0] / timing.median_s, "timing": timing,
                            "error_levels": level_error(last[0], reference), "peak_gpu_mib": peak.gpu,
                            "peak_rss_mib": peak.rss}

                section.attempt(row, measure)
                print_crop_row(row)
    return section


def print_crop_row(row: dict[str, Any]) -> None:
    head = f"{row['precision']:5} {'yes' if row['refine'] else 'no':6} {row['batch']:5d}"
    if "error" in row:
        print(f"{head}  FAILED: {row['error']}", flush=True)
        return
    e = row["error_levels"]
    gpu = f"{row['peak_gpu_mib']:9.0f}" if row["peak_gpu_mib"] is not None else f"{'-':>9}"
    bad = f"  {e['non_finite']} values not finite" if e["non_finite"] else ""
    print(f"{head} {row['crops_per_s']:9.1f} {row['timing'].median_s * 1e3:9.1f} "
          f"{e['mean']:7.3f} {e['p99']:7.2f} {e['max']:7.1f} {gpu} {row['peak_rss_mib']:8.0f}{bad}", flush=True)


# --- the clip ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    """The end-to-end clip and how its faces are found."""

    path: Path
    source: Path
    kind: str  # "shared" or "generated"
    detector: str
    frames: int
    stub: bool


def shared_folder() -> Path | None:
    """The shared media folder holding the 1080p clip: ``$VIDSWAP_SHARED``, else ``../shared``."""
    for candidate in (os.environ.get("VIDSWAP_SHARED"), ROOT.parent / "shared"):
        if candidate and (Path(candidate) / SHARED_CLIP).is_file():
            return Path(candidate)
    return None


def loop_clip(base: Path, output: Path, frames: int) -> None:
    """``output``: ``base``'s video packets repeated, times shifted, up to ``frames`` frames (no
    re-encode). ``base`` must be one GOP without B-frames (a key frame first, pts = dts)."""
    import av

    with av.open(str(base)) as src, av.open(str(output), "w") as out:
        stream = src.streams.video[0]
        packets = [p for p in src.demux(stream) if p.size]
        step = packets[1].pts - packets[0].pts
        length = len(packets) * step
        video = out.add_stream_from_template(stream)
        for index in range(frames):
            loop, packet = divmod(index, len(packets))
            p = packets[packet]
            copy = av.Packet(bytes(p))
            copy.pts = copy.dts = p.pts + loop * length
            copy.duration, copy.time_base, copy.stream = step, p.time_base, video
            copy.is_keyframe = p.is_keyframe
            out.mux(copy)


def prepare_clip(choice: str, frames: int, folder: Path) -> Clip:
    """The clip of ``--clip``: ``auto`` (the shared clip when present, else generated),
    ``generated``, or a path (its faces found by the pipeline's detector, the shared source photo)."""
    from vidswap.io.probe import probe

    shared = shared_folder() if choice != "generated" else None
    if choice not in ("auto", "generated") or shared is not None:
        if shared is None:
            raise FileNotFoundError(f"--clip {choice} needs the shared source photo {SHARED_SOURCE}; "
                                    "set VIDSWAP_SHARED")
        path = shared / SHARED_CLIP if choice == "auto" else Path(choice)
        return Clip(path, shared / SHARED_SOURCE, "shared" if choice == "auto" else "given",
                    "the pipeline's (largest face)", min(frames, probe(path).video.frame_count), stub=False)
    from tests.io.media import frame_image, make_clip
    from tests.pipeline.run_helpers import write_photo

    started = time.perf_counter()
    base = make_clip(folder / "base.mp4", frames=min(frames, 50), width=1920, height=1080, audio=False,
                     gop=1000, b_frames=False)
    path = folder / "clip.mp4"
    loop_clip(base, path, frames)
    source = write_photo(folder / "source.png", frame_image(7, 512, 512))
    print(f"generated a {frames}-frame 1080p clip in {time.perf_counter() - started:.1f} s", flush=True)
    return Clip(path, source, "generated", "tests' StubDetector (one face at fixed landmarks)", frames, stub=True)


# --- floor and run ----------------------------------------------------------------------------

def codecs() -> list[tuple[str, str | None]]:
    """(codec, why it is skipped or None) for x264 and NVENC."""
    from vidswap.io.codecs import encoder_available

    nvenc = None if encoder_available("h264_nvenc") else "h264_nvenc does not open here (no NVIDIA encoder)"
    return [("libx264", None), ("h264_nvenc", nvenc)]


def spec_for(clip: Clip, codec: str, frames: int, device_name: str, folder: Path) -> Any:
    from vidswap.pipeline import pipeline_from_options

    options: dict[str, Any] = {
        "input": str(clip.path), "sources.source": [str(clip.source)], "output.path": str(folder / f"{codec}.mp4"),
        "output.overwrite": True, "model.refine": True, "model.device": device_name, "encode.codec": codec,
        "frames": f"0-{frames - 1}"}
    if not clip.stub:
        options["swaps"] = [{"source": "source", "target": "largest"}]
    return pipeline_from_options(options)


def bench_floor(clip: Clip, codec: str, device: torch.device, device_name: str, folder: Path) -> dict[str, Any]:
    """Decode + encode alone (audio copied) with the run's encode settings: the I/O floor."""
    from vidswap.io.ranges import FrameRange
    from vidswap.io.reader import VideoReader
    from vidswap.io.writer import VideoWriter

    frames = FrameRange(start=0, stop=clip.frames)
    settings = spec_for(clip, codec, clip.frames, device_name, folder).encode.settings()
    with peak_memory(device) as peak:
        started = time.perf_counter()
        with VideoReader(clip.path, frames=frames) as reader, VideoWriter(
                folder / f"floor-{codec}.mp4", like=reader, frames=frames, settings=settings,
                overwrite=True) as writer:
            count = 0
            for frame in reader:
                writer.write(frame.pts, frame.rgb)
                count += 1
        seconds = time.perf_counter() - started
    return {"frames": count, "seconds": seconds, "fps": count / seconds, "peak_gpu_mib": peak.gpu,
            "peak_rss_mib": peak.rss}


def bench_run(clip: Clip, codec: str, bundle: Any, device: torch.device, device_name: str, folder: Path,
              floor_s: float | None) -> dict[str, Any]:
    """The real render path on the clip: whole run and its render step, and run ÷ floor."""
    from tests.pipeline.run_helpers import StubDetector
    from vidswap.pipeline.runner import run_pipeline
    from vidswap.pipeline.session import RenderSession, RunOptions
    from vidswap.pipeline.swap import autocast_dtype

    options = RunOptions(model=bundle, progress=False,
                         detector=StubDetector(STUB_LANDMARKS) if clip.stub else None)
    spec = spec_for(clip, codec, clip.frames, device_name, folder)
    with peak_memory(device) as peak:
        started = time.perf_counter()
        session = RenderSession(spec, options)
        summary = run_pipeline(spec, options, session=session)
        seconds = time.perf_counter() - started
    render_s = summary.stage_seconds.get("render")
    dtype = autocast_dtype(session.device, spec.model.precision)
    return {"frames": summary.frames, "faces": summary.faces_swapped, "seconds": seconds,
            "fps": summary.frames / seconds, "render_s": render_s,
            "render_fps": summary.frames / render_s if render_s else None, "steps_s": summary.stage_seconds,
            "run_over_floor": seconds / floor_s if floor_s else None, "batch_size": session.batch,
            "precision": str(dtype).removeprefix("torch.") if dtype else "float32",
            "peak_gpu_mib": peak.gpu, "peak_rss_mib": peak.rss}


def warm_up(clip: Clip, bundle: Any, device_name: str, folder: Path) -> dict[str, Any]:
    """One short run first, so the timed runs do not pay for first-call set-up (kernels, threads)."""
    from tests.pipeline.run_helpers import StubDetector
    from vidswap.pipeline.runner import run_pipeline
    from vidswap.pipeline.session import RunOptions

    spec = spec_for(clip, "libx264", min(4, clip.frames), device_name, folder)
    summary = run_pipeline(spec, RunOptions(model=bundle, progress=False,
                                            detector=StubDetector(STUB_LANDMARKS) if clip.stub else None))
    return {"seconds": summary.seconds}


def print_io_row(kind: str, row: dict[str, Any]) -> None:
    head = f"{kind:6} {row['codec']:11}"
    if "skipped" in row or "error" in row:
        print(f"{head}  {'SKIPPED' if 'skipped' in row else 'FAILED'}: {row.get('skipped') or row['error']}",
              flush=True)
        return
    gpu = f"{row['peak_gpu_mib']:9.0f}" if row["peak_gpu_mib"] is not None else f"{'-':>9}"
    extra = ""
    if kind == "run":
        ratio = f"{row['run_over_floor']:.2f}" if row["run_over_floor"] else "-"
        extra = (f"  faces {row['faces']}, render step {row['render_fps']:.1f} fps, run/floor {ratio}, "
                 f"{row['precision']}, batch {row['batch_size']}")
    print(f"{head} {row['frames']:6d} {row['seconds']:8.2f} {row['fps']:8.1f} {gpu} {row['peak_rss_mib']:8.0f}"
          f"{extra}", flush=True)


# --- main -------------------------------------------------------------------------------------

def device_slug(device: torch.device) -> str:
    """The results file's device part: ``cpu<threads>`` or the GPU's name (``nvidia-h200``)."""
    if device.type != "cuda":
        return f"cpu{torch.get_num_threads()}"
    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--preset", choices=["tiny", "paper"], default=None,
                        help="model size (default: paper on CUDA, tiny on the CPU)")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames of the end-to-end clip (default: 1000 on CUDA, 24 on the CPU, 6 with --quick)")
    parser.add_argument("--batches", default=None, help="comma-separated crop batch sizes (default: 1,8,32)")
    parser.add_argument("--clip", default="auto", help="auto (shared clip when present), generated, or a path")
    parser.add_argument("--quick", action="store_true",
                        help="a CPU smoke run: batches 1,4, one warm-up and one timed call, 6 frames")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    parser.add_argument("--save", action="store_true",
                        help="also write benchmarks/results/gpu-<device>[-quick].json")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out: crops, floor, run")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from vidswap.models.checkpoint import build_bundle
    from vidswap.models.config import FaceShifterConfig
    from vidswap.pipeline.swap import resolve_device

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    preset = args.preset or ("paper" if cuda else "tiny")
    frames = args.frames or (1000 if cuda else 6 if args.quick else 24)
    batches = [int(b) for b in (args.batches or ("1,4" if args.quick else "1,8,32")).split(",")]
    warmup, repeats = (1, 1) if args.quick else (3, 10) if cuda else (1, 3)
    skip = set(filter(None, args.skip.split(",")))
    env = environment(device)
    print(f"device {env['device']}, {env['cpu_threads']} CPU threads, torch {env['torch']}, preset {preset}",
          flush=True)
    torch.manual_seed(0)
    bundle = build_bundle(FaceShifterConfig.preset(preset)).to(device)
    doc: dict[str, Any] = {"benchmark": "gpu", "environment": env, "preset": preset, "quick": args.quick,
                           "weights": "random (seed 0)", "load_average_at_start": os.getloadavg()[0],
                           "sections": {}}
    started = time.perf_counter()
    paths = [args.json] if args.json else []
    if args.save:
        paths.append(RESULTS / f"gpu-{device_slug(device)}{'-quick' if args.quick else ''}.json")

    def save(final: bool = False) -> None:
        """Write what is measured so far (a run cut short still leaves its finished sections)."""
        doc["seconds"], doc["complete"] = time.perf_counter() - started, final
        doc["load_average_at_end"] = os.getloadavg()[0]
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, doc)

    if "crops" not in skip:
        print(f"\n{'prec':5} {'refine':6} {'batch':>5} {'crops/s':>9} {'ms':>9} {'err avg':>7} {'p99':>7} "
              f"{'max':>7} {'GPU MiB':>9} {'RSS MiB':>8}", flush=True)
        crops = bench_crops(bundle, device, batches, warmup=warmup, repeats=repeats)
        doc["sections"]["crops"] = {"note": "error: |y - strict fp32| in 8-bit levels; fp32 rows use torch's "
                                            "defaults (TF32 convolutions on CUDA)", "rows": crops.rows}
        save()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip_section = Section("clip")
        clip_row = clip_section.attempt({}, lambda: {"clip": prepare_clip(args.clip, frames, folder)})
        clip: Clip | None = clip_row.get("clip")
        if clip is None:
            print(f"no clip: {clip_row['error']}", flush=True)
        else:
            doc["clip"] = {"path": str(clip.path) if clip.kind != "generated" else "generated (make_clip, looped)",
                           "kind": clip.kind, "detector": clip.detector, "frames": clip.frames,
                           "source": clip.source.name}
            print(f"\nclip: {clip.kind} {clip.path.name}, {clip.frames} frames; faces: {clip.detector}")
            print(f"{'what':6} {'codec':11} {'frames':>6} {'s':>8} {'fps':>8} {'GPU MiB':>9} {'RSS MiB':>8}",
                  flush=True)
            floor, run = Section("floor"), Section("run")
            floors: dict[str, float] = {}
            if "run" not in skip:
                warm = Section("warm-up").attempt({}, lambda: warm_up(clip, bundle, args.device, folder))
                if "error" in warm:
                    print(f"warm-up run failed: {warm['error']}", flush=True)
            for codec, skipped in codecs():
                if "floor" not in skip:
                    row = {"codec": codec, **({"skipped": skipped} if skipped else {})}
                    if skipped:
                        floor.rows.append(row)
                    else:
                        floor.attempt(row, lambda c=codec: bench_floor(clip, c, device, args.device, folder))
                        if "seconds" in row:
                            floors[codec] = row["seconds"]
                    print_io_row("floor", row)
                if "run" not in skip:
                    row = {"codec": codec, **({"skipped": skipped} if skipped else {})}
                    if skipped:
                        run.rows.append(row)
                    else:
                        run.attempt(row, lambda c=codec: bench_run(clip, c, bundle, device, args.device, folder,
                                                                    floors.get(c)))
                    print_io_row("run", row)
                doc["sections"]["floor"] = {"rows": floor.rows}
                doc["sections"]["run"] = {"note": RUN_NOTE, "rows": run.rows}
                save()
    save(final=True)
    print(f"\ntotal {doc['seconds']:.0f} s; wrote {', '.join(map(str, paths)) or 'nothing (no --json, --save)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
