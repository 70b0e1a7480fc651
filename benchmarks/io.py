"""Video I/O speed and memory: decode, encode and pass-through fps at 720p and 1080p, peak
memory for a clip and the same clip 10x longer, and the PNG round trip other tools use.

Run from the repository root (2 CPU cores are enough; it takes a few minutes):

    python -m benchmarks.io [--json benchmarks/results/io.json] [--repeats 3]

Uses ``../shared/media/videos`` (singer_720p.mp4, crowd_1080p.mp4, man_neutral.mp4) when
present, otherwise generated clips. Every figure times the public API of ``vidswap.io``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vidswap.io import EncodeSettings, FrameRange, ImageSequenceWriter, VideoReader, VideoWriter, probe  # noqa: E402

#: What the pipeline writes by default, and a fast preset for comparison.
DEFAULT = EncodeSettings(codec="libx264")
FAST = EncodeSettings(codec="libx264", preset="veryfast")


def clip(name: str, work: Path, *, width: int, height: int, frames: int) -> Path:
    """A shared clip when present, else a generated one of the same size."""
    shared = REPO.parent / "shared" / "media" / "videos" / name
    if shared.is_file():
        return shared
    from tests.io.media import make_clip

    return make_clip(work / name, width=width, height=height, frames=frames, rate=Fraction(25))


def loop(source: Path, output: Path, times: int) -> Path:
    """``source`` repeated ``times`` times by copying packets (no re-encode): a longer clip."""
    import av

    with av.open(str(source)) as container:
        kept = [s.index for s in container.streams if s.type in ("video", "audio")]
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for packet in container.demux(*(container.streams[i] for i in kept)):
            if packet.pts is not None and packet.size:
                index = packet.stream.index
                first[index] = min(first.get(index, packet.pts), packet.pts)
                last[index] = max(last.get(index, packet.pts), packet.pts + (packet.duration or 0))
    span = {i: last[i] - first[i] for i in first}  # each copy starts where the previous ends
    with av.open(str(output), "w") as out:
        with av.open(str(source)) as template:
            mapping = {i: out.add_stream_from_template(template.streams[i]) for i in span}
        for copy in range(times):
            with av.open(str(source)) as container:
                for packet in container.demux(*(container.streams[i] for i in mapping)):
                    if packet.dts is None or packet.pts is None or packet.size == 0:
                        continue
                    index = packet.stream.index
                    packet.pts += copy * span[index]
                    packet.dts += copy * span[index]
                    packet.stream = mapping[index]
                    out.mux(packet)
    return output


def timed(run: Callable[[], int], repeats: int) -> dict[str, float]:
    """Median and spread of frames/s over ``repeats`` runs of ``run`` (which returns frames done)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        frames = run()
        rates.append(frames / (time.perf_counter() - start))
    return {"fps": statistics.median(rates), "min": min(rates), "max": max(rates), "frames": frames}


def decode(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader)


def encode(path: Path, output: Path, settings: EncodeSettings, frames: int = 60) -> float:
    """Frames/s encoding ``frames`` decoded frames held in memory (decoding is not timed)."""
    with VideoReader(path, frames=FrameRange(stop=min(frames, probe(path).video.frame_count))) as reader:
        held = [(f.pts, f.rgb) for f in reader]
    start = time.perf_counter()
    with VideoWriter(
        output,
        like=probe(path),
        frames=FrameRange(stop=len(held)),
        settings=settings,
        overwrite=True,
        copy_streams=False,
    ) as writer:
        for pts, rgb in held:
            writer.write(pts, rgb)
    return len(held) / (time.perf_counter() - start)


def pass_through(path: Path, output: Path, settings: EncodeSettings) -> int:
    with (
        VideoReader(path) as reader,
        VideoWriter(output, like=reader, settings=settings, overwrite=True) as writer,
    ):
        for frame in reader:
            writer.write(frame.pts, frame.rgb)
    return reader.frames.stop or 0


def png_round_trip(path: Path, work: Path, settings: EncodeSettings) -> tuple[int, int]:
    """Extract PNG frames to disk, read them back, encode: the way other face-swap tools work.

    Returns frames done and the bytes the PNG frames took on disk.
    """
    folder = Path(tempfile.mkdtemp(dir=work))
    info = probe(path)
    stamps = []
    with VideoReader(path) as reader, ImageSequenceWriter(folder / "frame.%06d.png") as sequence:
        for frame in reader:
            sequence.write(frame.rgb)
            stamps.append(frame.pts)
    disk = sum(f.stat().st_size for f in folder.iterdir())
    with (
        VideoReader(folder / "frame.%06d.png") as images,
        VideoWriter(work / "png.mp4", like=info, settings=settings, overwrite=True) as writer,
    ):
        for frame, pts in zip(images, stamps, strict=True):
            writer.write(pts, frame.rgb)
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    return len(stamps), disk


def peak_memory(path: Path, output: Path) -> float:
    """Peak RSS (MiB) of a fresh process doing one pass-through (veryfast preset).

    Read from ``VmHWM`` in ``/proc/self/status``: ``getrusage``'s ``ru_maxrss`` would carry
    the forking parent's high-water mark over ``exec``.
    """
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from benchmarks.io import FAST, pass_through\n"
        "from pathlib import Path\n"
        f"pass_through(Path({str(path)!r}), Path({str(output)!r}), FAST)\n"
        "print([line for line in open('/proc/self/status') if line.startswith('VmHWM')][0].split()[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) / 1024


class Rows(list):
    """Result rows; each is logged to stderr as it comes, so a long run shows progress."""

    def append(self, row: dict[str, object]) -> None:
        print(f"done: {row}", file=sys.stderr, flush=True)
        super().append(row)


def environment() -> dict[str, str]:
    import av

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    return {
        "commit": commit.stdout.strip(),
        "python": platform.python_version(),
        "av": av.__version__,
        "ffmpeg_libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
        "machine": f"{platform.machine()} {platform.processor() or ''} cpus={__import__('os').cpu_count()}",
    }


def speed(rows: Rows, size: str, path: Path, work: Path, repeats: int) -> None:
    """Decode, encode and pass-through frames/s for one clip."""
    decode(path)  # warm-up: file cache, codec init
    rows.append({"test": "decode", "size": size, **timed(lambda: decode(path), repeats)})
    for name, settings in (("medium crf16", DEFAULT), ("veryfast crf16", FAST)):
        rates = [encode(path, work / "enc.mp4", settings) for _ in range(repeats)]
        rows.append(
            {
                "test": f"encode x264 {name}",
                "size": size,
                "fps": statistics.median(rates),
                "min": min(rates),
                "max": max(rates),
                "frames": 60,
            }
        )
        rows.append(
            {
                "test": f"pass-through x264 {name}",
                "size": size,
                **timed(lambda s=settings: pass_through(path, work / "out.mp4", s), repeats),
            }
        )


def png(rows: Rows, size: str, path: Path, work: Path) -> None:
    """The PNG round trip, timed once (it is slow)."""
    start = time.perf_counter()
    frames, disk = png_round_trip(path, work, FAST)
    rows.append(
        {
            "test": "PNG extract+read+encode x264 veryfast",
            "size": size,
            "fps": frames / (time.perf_counter() - start),
            "frames": frames,
            "png_disk_mib": disk / 2**20,
        }
    )


def memory(rows: Rows, work: Path) -> None:
    """Peak RSS of a pass-through of a clip and of the same clip 10x longer."""
    short = clip("man_neutral.mp4", work, width=480, height=480, frames=216)
    for label, path in (("1x", short), ("10x", loop(short, work / "long.mp4", 10))):
        rows.append(
            {
                "test": f"peak RSS pass-through {label}",
                "size": f"{probe(path).video.frame_count} frames",
                "rss_mib": peak_memory(path, work / "mem.mp4"),
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median reported)")
    parser.add_argument(
        "--only",
        choices=("speed", "png", "memory"),
        action="append",
        help="run only these parts (repeatable); default all",
    )
    args = parser.parse_args()
    parts = set(args.only or ("speed", "png", "memory"))
    rows = Rows()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sizes = {
            "720p": clip("singer_720p.mp4", work, width=1280, height=720, frames=120),
            "1080p": clip("crowd_1080p.mp4", work, width=1920, height=1080, frames=100),
        }
        for size, path in sizes.items():
            if "speed" in parts:
                speed(rows, size, path, work, args.repeats)
            if "png" in parts:
                png(rows, size, path, work)
        if "memory" in parts:
            memory(rows, work)
    table(rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"environment": environment(), "results": rows}, indent=2))


def table(rows: list[dict[str, object]]) -> None:
    """Print the results as a table."""
    print(f"{'test':42} {'size':12} {'fps':>8} {'min':>8} {'max':>8} {'extra':>14}")
    for row in rows:
        extra = (
            f"{row['rss_mib']:.0f} MiB RSS"
            if "rss_mib" in row
            else f"{row['png_disk_mib']:.0f} MiB PNG"
            if "png_disk_mib" in row
            else ""
        )
        fps = f"{row['fps']:8.1f}" if "fps" in row else " " * 8
        spread = f"{row['min']:8.1f} {row['max']:8.1f}" if "min" in row else " " * 17
        print(f"{row['test']:42} {row['size']!s:12} {fps} {spread} {extra:>14}")


if __name__ == "__main__":
    main()
