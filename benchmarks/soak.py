"""Memory soak: a job ten times as long must not need more memory.

A shared clip (``hamilton_short.mp4``, 275 frames with audio) is concatenated N times by packet
copy (no re-encode) and rendered as a job through the CLI (tiny random model, FFV1, the default
detector) in a child process whose resident memory is sampled every second. The peak of the
long run must stay within 10% of the peak of the one-copy run: memory is bounded by queue sizes,
never by the video's length.

    python -m benchmarks.soak                 # 1x and 10x, writes benchmarks/results/soak-cpu2.json
    python -m benchmarks.soak --copies 1,3    # a shorter check
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import write_json
from tests.conftest import shared_path
from tests.pipeline.run_helpers import make_tiny_model

REPO = Path(__file__).resolve().parents[1]


def concatenate(source: Path, copies: int, output: Path) -> Path:
    """``source`` repeated ``copies`` times by packet copy: every stream, its timestamps moved on by
    one source length per copy."""
    import av

    with av.open(str(source)) as probe:
        length = {s.index: 0 for s in probe.streams}
        for packet in probe.demux():
            if packet.pts is not None and packet.duration:
                end = packet.pts + packet.duration
                length[packet.stream.index] = max(length[packet.stream.index], end)
    with av.open(str(output), "w") as out:
        with av.open(str(source)) as first:
            streams = {s.index: out.add_stream_from_template(s) for s in first.streams if s.type in ("video", "audio")}
        for copy in range(copies):
            with av.open(str(source)) as src:
                for packet in src.demux():
                    index = packet.stream.index
                    if index not in streams or packet.size == 0:
                        continue
                    shift = copy * length[index]
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts = None if packet.dts is None else packet.dts + shift
                    packet.stream = streams[index]
                    out.mux(packet)
    return output


def peak_rss(args: list[str], *, every: float = 1.0, samples: list[int] | None = None) -> tuple[int, float, int]:
    """Run ``python -m vidswap ARGS``; its peak resident memory (bytes, sampled every ``every``
    seconds, each sample appended to ``samples``), wall time, and exit status."""
    child = subprocess.Popen([sys.executable, "-m", "vidswap", *args], env={**os.environ, "PYTHONPATH": str(REPO)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        status = Path(f"/proc/{child.pid}/status")
        while not stop.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                        peak = max(peak, rss)
                        if samples is not None:
                            samples.append(rss)
            except OSError:
                return
            stop.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    _, errors = child.communicate()
    stop.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"vidswap {' '.join(args)} failed:\n{errors[-2000:]}")
    return peak, time.perf_counter() - started, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,10", help="copies of the clip per run, comma-separated")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "soak-cpu2.json")
    args = parser.parse_args()
    media = shared_path() / "media"
    clip, photo = media / "videos" / "hamilton_short.mp4", media / "photos" / "obama.jpg"
    if not clip.is_file():
        raise SystemExit(f"needs the shared clip {clip} (set VIDSWAP_SHARED)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = make_tiny_model(folder / "tiny.safetensors")
        for copies in (int(c) for c in args.copies.split(",")):
            source = concatenate(clip, copies, folder / f"long{copies}.mp4")
            out = folder / f"out{copies}.mkv"
            samples: list[int] = []
            peak, seconds, _ = peak_rss(["run", str(source), "-s", str(photo), "--model", str(model), "-o", str(out),
                                         "--codec", "ffv1", "--no-progress"], samples=samples)
            # RSS at each tenth of the run: a plateau is bounded memory, a ramp is a leak.
            tenths = [round(samples[min(len(samples) - 1, len(samples) * k // 10)] / 2**20) for k in range(1, 11)]
            rows.append({"copies": copies, "frames": 275 * copies, "peak_rss_mib": round(peak / 2**20, 1),
                         "seconds": round(seconds, 1), "rss_mib_by_tenth": tenths})
            print(f"{copies:>3} x {clip.name}: {275 * copies:>5} frames, peak RSS {peak / 2**20:7.1f} MiB, "
                  f"{seconds:6.1f} s; RSS by tenth of the run (MiB): {tenths}", flush=True)
    base = rows[0]["peak_rss_mib"]
    for row in rows:
        row["peak_over_first"] = round(row["peak_rss_mib"] / base, 3)
    write_json(args.json, {"clip": clip.name, "rows": rows, "limit": "peak within 10% of the first row"})
    worst = max(row["peak_over_first"] for row in rows)
    print(f"peak / first run's peak: at most {worst:.3f} ({'ok' if worst <= 1.10 else 'OVER the 10% bound'})")


if __name__ == "__main__":
    main()
