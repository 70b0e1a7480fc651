"""The streaming face-swap pipeline: YAML spec, threaded stages, runner and jobs.

``load_pipeline(path, overrides)`` turns a pipeline file plus command-line values into a
validated, fully resolved :class:`PipelineSpec`.
"""

from vidswap.pipeline.compat import CURRENT_VERSION
from vidswap.pipeline.load import load_pipeline, pipeline_from_options
from vidswap.pipeline.ranges import FrameRangeSpec, Timecode, parse_frame_range
from vidswap.pipeline.spec import (
    EncodeSpec,
    InputSpec,
    ModelSpec,
    OutputSpec,
    OverrideSpec,
    PhotoRef,
    PipelineSpec,
    SwapSpec,
    TargetSpec,
)

__all__ = [
    "CURRENT_VERSION", "load_pipeline", "pipeline_from_options", "FrameRangeSpec", "Timecode",
    "parse_frame_range",
    "PipelineSpec", "InputSpec", "OutputSpec", "PhotoRef", "TargetSpec", "SwapSpec",
    "ModelSpec", "EncodeSpec", "OverrideSpec",
]
