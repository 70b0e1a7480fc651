"""Every pixel-format conversion goes through swscale here, single-threaded.

swscale's automatic threading (PyAV's default, ``threads=0``) is not deterministic: measured with
PyAV 18.1's FFmpeg 8.1, the first p010le → yuv420p10le conversion in a process came back with a
row of wrong samples in about one run of three, and never with one thread. A conformance tool
cannot afford a conversion that differs between runs, so none is threaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import av


def convert(frame: av.VideoFrame, format: str, **options: Any) -> av.VideoFrame:  # noqa: A002 - PyAV's name
    """``frame.reformat(format=format, **options)`` on one swscale thread (the frame itself when
    nothing is to be done)."""
    return frame.reformat(format=format, threads=1, **options)
