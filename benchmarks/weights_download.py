"""Throughput of checked downloads: plain, resumed after an interruption, and the sha256 check.

Serves random bytes from a local HTTP server (127.0.0.1) and downloads them with
``vidswap.weights.download.download`` (no progress bar), so the figure is vidswap's own
overhead (copy, hashing, rename), not the network's. Run from the repository root:

    python benchmarks/weights_download.py --size-mb 256 --repeats 3 [--json PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.weights.helpers import serve_locally  # noqa: E402 (after the path set-up)
from vidswap import __version__  # noqa: E402
from vidswap.weights.download import download, sha256_of  # noqa: E402


def _timed(fn, repeats: int) -> tuple[float, float]:
    """(median, spread = max - min) of ``repeats`` calls after one warm-up, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times) - min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=128, help="size of the served file (MiB)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    args = parser.parse_args()

    body = hashlib.sha256(b"seed").digest() * (args.size_mb * 32768)  # deterministic, 1 MiB = 32768 x 32 B
    digest = hashlib.sha256(body).hexdigest()
    size_mb = len(body) / 2**20
    rows = []
    with serve_locally() as server, tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "w.bin"
        plain_url = server.serve("/plain", body)

        def plain() -> None:
            dest.unlink(missing_ok=True)
            download(plain_url, dest, size=len(body), sha256=digest, progress=False)

        def resumed() -> None:
            # A fresh server entry each time, so the first request is cut at half the file.
            url = server.serve("/cut", body, cut_after=len(body) // 2)
            dest.unlink(missing_ok=True)
            download(url, dest, size=len(body), sha256=digest, attempts=2, progress=False)

        def hashing() -> None:
            sha256_of(dest)

        for case, fn in (("download + check", plain), ("interrupted at 50 % + resume + check", resumed),
                         ("sha256 of the file", hashing)):
            median, spread = _timed(fn, args.repeats)
            rows.append({"case": case, "median_s": median, "spread_s": spread, "mib_per_s": size_mb / median})

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    meta = {"vidswap": __version__, "commit": commit, "python": platform.python_version(),
            "machine": platform.machine(), "processor": platform.processor(), "size_mib": size_mb,
            "repeats": args.repeats}
    print(f"{'case':40} {'median s':>9} {'spread s':>9} {'MiB/s':>8}")
    for row in rows:
        print(f"{row['case']:40} {row['median_s']:9.3f} {row['spread_s']:9.3f} {row['mib_per_s']:8.0f}")
    print(json.dumps(meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
