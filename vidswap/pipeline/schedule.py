"""Which settings apply to which frame: the pipeline with its frame-range overrides resolved.

A pipeline's ``overrides`` give other settings (swaps, detector, smoothing, mask, watermark)
for frame ranges; a later override wins where two overlap. Each swap may also be limited to
a range. :class:`Schedule` resolves those ranges once against the input (frame count,
timecode) so every stage asks ``settings(index)`` and gets the plain pipeline for that frame.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vidswap.io.probe import MediaInfo
    from vidswap.io.ranges import FrameRange
    from vidswap.pipeline.ranges import FrameRangeSpec
    from vidswap.pipeline.spec import PipelineSpec

__all__ = ["Schedule"]


@dataclass(frozen=True)
class Schedule:
    """The pipeline's settings per frame.

    Build with :meth:`of`.

    Attributes:
        frames: the frames rendered (the pipeline's ``frames``, resolved).
        base: the settings outside every override.
        overrides: ``(range, settings inside it)``, later ones win.
    """

    frames: FrameRange
    base: PipelineSpec
    overrides: tuple[tuple[FrameRange, PipelineSpec], ...]
    _info: MediaInfo

    @classmethod
    def of(cls, spec: PipelineSpec, info: MediaInfo) -> Schedule:
        """Resolve ``spec``'s ranges against the probed input ``info``.

        Raises:
            ConfigError: a range lies outside the input.
        """
        from vidswap.errors import ConfigError
        from vidswap.io.ranges import FrameRange

        def resolve(frames: FrameRangeSpec | None, key: str) -> FrameRange:
            try:
                if frames is None:
                    return FrameRange().resolve(info.video.frame_count, source=str(info.path))
                return frames.resolve(frame_count=info.video.frame_count, rate=info.timecode_rate,
                                      start_timecode=info.timecode)
            except ConfigError as err:
                raise ConfigError(f"{key}: {err} ({info.path.name})") from err

        overrides = tuple((resolve(o.frames, f"overrides.{i}.frames"), spec.with_override(o))
                          for i, o in enumerate(spec.overrides))
        schedule = cls(resolve(spec.frames, "frames"), spec.model_copy(update={"overrides": ()}), overrides, info)
        for settings in schedule.variants():
            for i, swap in enumerate(settings.swaps):
                resolve(swap.frames, f"swaps.{i}.frames")
        return schedule

    def settings(self, index: int) -> PipelineSpec:
        """The settings of frame ``index``."""
        for frames, settings in reversed(self.overrides):
            if index in frames:
                return settings
        return self.base

    def variants(self) -> Iterator[PipelineSpec]:
        """Every distinct settings object (the base first)."""
        yield self.base
        for _, settings in self.overrides:
            yield settings

    def fingerprint(self, sections: Sequence[str]) -> str:
        """``sections`` of the pipeline (``input``, ``sources``, ``detector`` ...) as they apply to
        each rendered frame, hashed: equal exactly when every frame gets the same values of them.

        Overrides that change none of ``sections`` leave it unchanged.
        """
        parts: list[object] = [str(self.frames)]
        base = self.base.model_dump(mode="json", include=set(sections))
        parts.append(base)
        for frames, settings in self.overrides:
            values = settings.model_dump(mode="json", include=set(sections))
            if values != base:
                parts.append([str(frames), values])
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def swap_range(self, frames: FrameRangeSpec | None) -> FrameRange | None:
        """A swap's ``frames`` resolved (None: every frame)."""
        if frames is None:
            return None
        return frames.resolve(frame_count=self.info.video.frame_count, rate=self.info.timecode_rate,
                              start_timecode=self.info.timecode)

    @property
    def info(self) -> MediaInfo:
        """The probed input."""
        return self._info
