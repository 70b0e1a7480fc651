"""How often a job run and a range re-render repeat their set-up: probes of the input,
output checks (``check_io``, now ``check_outputs``), pipeline validations, schedules and swappers
built, and input hashes.

A 24-frame clip, 6 segments of 4 frames, the tiny random model, the default detector, through
the CLI (``vidswap run`` then ``vidswap run JOB --frames 9-12 --set mask.blur=0.2``), with the
tests' stub detector in place of YuNet (the generated clip has no real faces). Prints a table;
``--json PATH`` writes it.

    python -m benchmarks.setup_counts
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import tempfile
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

from click.testing import CliRunner

from tests.io.media import frame_image, make_clip
from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo


def _counted(stack: ExitStack, counts: collections.Counter, name: str, target: str, only: Path | None) -> None:
    """Count calls of ``target`` (``module:attr`` or ``module:Class.attr``) under ``name``; with
    ``only``, just the calls whose first argument is that file."""
    module_name, attr = target.split(":")
    owner = importlib.import_module(module_name)
    *path, leaf = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = owner.__dict__[leaf] if isinstance(owner, type) else getattr(owner, leaf)
    func = original.__func__ if isinstance(original, classmethod) else original

    def wrapper(*args, **kwargs):
        if only is None or (args and Path(args[0]).resolve() == only.resolve()):
            counts[name] += 1
        return func(*args, **kwargs)

    stack.enter_context(mock.patch.object(owner, leaf, classmethod(wrapper) if isinstance(original, classmethod)
                                           else wrapper))


#: What is counted: name -> the functions that do it (every place that imported them by name).
TARGETS = {
    "probe": ["vidswap.io.probe:probe", "vidswap.io.reader:probe"],
    "check_io": ["vidswap.pipeline.runner:check_io", "vidswap.pipeline.session:check_outputs"],
    "validate": ["vidswap.pipeline.load:validate_data"],
    "schedule": ["vidswap.pipeline.schedule:Schedule.of"],
    "swapper": ["vidswap.pipeline.swap:Swapper.__init__"],
    "input hash": ["vidswap.jobs.store:sha256_file", "vidswap.jobs.job:sha256_file"],
}
#: Counted only for the input file (the claim is one probe and one hash of the input per run).
_INPUT_ONLY = {"probe", "input hash"}  # the report probes the output it shows: not the input


def measure() -> dict[str, dict[str, int]]:
    from vidswap.cli import main

    rows: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = make_tiny_model(folder / "tiny.safetensors")
        clip = make_clip(folder / "shot.mp4", frames=24, width=96, height=64)
        photo = write_photo(folder / "me.png", frame_image(3, 128, 128))
        out = folder / "out.mkv"
        commands = {
            "job run": ["run", str(clip), "-s", str(photo), "-o", str(out), "--model", str(model),
                        "--codec", "ffv1", "--segment-frames", "4", "--no-progress"],
            "range re-render": ["run", str(out) + ".vidswap-job", "--frames", "9-12", "--set", "mask.blur=0.2",
                                "--no-progress"],
        }
        for label, args in commands.items():
            counts: collections.Counter = collections.Counter()
            for targets in TARGETS.values():  # import first: a later import would bind a patched name
                for target in targets:
                    try:
                        importlib.import_module(target.split(":")[0])
                    except ModuleNotFoundError:
                        pass
            with ExitStack() as stack:
                for name, targets in TARGETS.items():
                    for target in targets:
                        try:
                            _counted(stack, counts, name, target, clip if name in _INPUT_ONLY else None)
                        except (AttributeError, ModuleNotFoundError, KeyError):
                            pass  # that place does not exist in this version
                stack.enter_context(mock.patch("vidswap.faces.detect.create_detector",
                                               lambda *a, **k: StubDetector()))
                result = CliRunner().invoke(main, args)
            if result.exit_code != 0:
                raise SystemExit(f"{label}: {result.output}")
            rows[label] = {name: counts[name] for name in TARGETS}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the table as JSON here")
    args = parser.parse_args()
    rows = measure()
    print(f"{'':18}" + "".join(f"{name:>12}" for name in TARGETS))
    for label, counts in rows.items():
        print(f"{label:18}" + "".join(f"{counts[name]:>12}" for name in TARGETS))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
