"""A job render in its own process, for the kill tests: ``python job_child.py SPEC.json JOB SEGMENT_FRAMES``.

It renders with the stub detector (one face in every frame), as the in-process tests do.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.pipeline.run_helpers import StubDetector  # noqa: E402
from vidswap.jobs.job import _validate, run_job  # noqa: E402
from vidswap.pipeline.session import RunOptions  # noqa: E402

if __name__ == "__main__":
    import json

    spec = _validate(json.loads(Path(sys.argv[1]).read_text()))
    run_job(spec, Path(sys.argv[2]), segment_frames=int(sys.argv[3]),
            options=RunOptions(progress=False, detector=StubDetector()))
