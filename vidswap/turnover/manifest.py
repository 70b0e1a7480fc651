"""The turnover's manifest: every file it holds, the plate, the frame range, the weights and their licences."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidswap import __version__

if TYPE_CHECKING:
    from vidswap.io.probe import MediaInfo
    from vidswap.weights.cache import ResolvedWeights

__all__ = ["turnover_manifest"]


def turnover_manifest(folder: Path, *, info: MediaInfo, first: int, last: int, layer_pattern: Path,
                      matte_pattern: Path, occlusion_pattern: Path | None, frame_files: Sequence[Sequence[Path]],
                      weights: Sequence[ResolvedWeights], output: Path | None, extra: Sequence[str]) -> dict[str, Any]:
    """The manifest as a JSON-ready dict; file paths relative to ``folder``."""
    def rel(path: Path) -> str:
        return path.relative_to(folder).as_posix()

    return {
        "vidswap": __version__,
        "note": "contains synthetic (AI-generated) faces",
        "plate": {"path": str(info.path), "width": info.video.width, "height": info.video.height,
                  "rate": str(info.video.rate), "timecode": info.timecode, "pix_fmt": info.video.pix_fmt},
        "output": None if output is None else str(output),
        "frames": {"first": first, "last": last, "count": last - first + 1},
        "layer": rel(layer_pattern), "matte": rel(matte_pattern),
        "occlusion": None if occlusion_pattern is None else rel(occlusion_pattern),
        "files": [*extra, *(rel(path) for files in frame_files for path in files)],
        "weights": [{"name": w.name, "path": str(w.path), "licence": w.licence, "source": w.source} for w in weights],
    }
