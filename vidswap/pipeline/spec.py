"""The pipeline schema: what a YAML pipeline (or ``vidswap run``'s options) may say.

One frozen pydantic model per section; unknown keys are errors. Validation resolves relative
paths against the pipeline file's folder (``context={"base_dir": …}``; values given on the
command line are relative to the working directory), checks that inputs exist, and fills in
codec-dependent defaults, so the validated :class:`PipelineSpec` is the fully resolved plan
that :meth:`PipelineSpec.to_json` prints and a job stores.

Convention:
    Frame numbers are 0-based, ranges inclusive (see :mod:`vidswap.pipeline.ranges`). Mask
    sizes (``erosion``, ``blur``) are pixels of the 256x256 aligned face crop, so they do not
    depend on the shot's resolution; detector sizes are pixels of the input frame. A photo
    holding several faces picks one with ``face``: 0-based, counted left to right.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from vidswap.faces.detect import DetectorConfig
from vidswap.faces.mask_config import MaskConfig
from vidswap.faces.smooth import SmootherConfig
from vidswap.io.layers import DEFAULT_LAYER_FORMAT, LAYER_FORMAT_CHOICES
from vidswap.io.media import (
    BIT_DEPTHS,
    CODEC_CHOICES,
    CRF_RANGE,
    DEFAULT_CODEC,
    IMAGE_SUFFIXES,
    MATTE_CODEC,
    PROFILE_CHOICES,
    VIDEO_CODECS,
    VIDEO_OUTPUT_SUFFIXES,
    codec_info,
    is_sequence_pattern,
    sequence_files,
    sequence_problem,
)
from vidswap.pipeline.compat import CURRENT_VERSION
from vidswap.pipeline.values import (
    BatchSize,
    Bool,
    Fps,
    FrameRange,
    InPath,
    OutPath,
    SpecProblem,
    paths_in,
)

if TYPE_CHECKING:
    from vidswap.faces.track import SelectConfig
    from vidswap.io.codecs import EncodeSettings

__all__ = [
    "PhotoRef", "InputSpec", "OutputSpec", "TargetSpec",
    "SwapSpec", "ModelSpec", "EncodeSpec", "TurnoverSpec",
    "OverrideSpec", "PipelineSpec", "OVERRIDABLE", "OVERRIDABLE_MODEL_KEYS",
]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | dict) else value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PathFirst(_Spec):
    """A section that may be written as just its path (``input: clip.mov``)."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str | Path) else data


class PhotoRef(_PathFirst):
    """A photo of a face: a source identity or a target reference.

    YAML: ``photo.jpg`` or ``{path: group.jpg, face: 1}``.

    Attributes:
        path: the photo (must exist).
        face: which face when the photo shows several (0-based, left to right); None = the
            photo must show exactly one face.
    """

    path: InPath
    face: Annotated[int, Strict(), Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _check(self) -> PhotoRef:
        if self.path.is_dir():
            raise SpecProblem(f"{self.path} is a folder; give a photo ({', '.join(sorted(IMAGE_SUFFIXES))})", "path")
        if self.path.suffix.lower() not in IMAGE_SUFFIXES:
            raise SpecProblem(f"expected a photo ({', '.join(sorted(IMAGE_SUFFIXES))}), found {self.path.name}; "
                              f"take a still of a video with an image sequence or a frame grab", "path")
        return self


class InputSpec(_PathFirst):
    """The shot: a video file or an image sequence.

    YAML: ``clip.mov`` or ``{path: plates/sh010.%04d.exr, fps: 24}``.

    Attributes:
        path: video file, or image-sequence pattern (``%04d``, ``%d`` or ``####`` in the name).
        fps: frame rate of an image sequence (24, 25, 29.97, "24000/1001"); videos carry
            their own timestamps, so it is only for sequences.
    """

    path: OutPath
    fps: Fps | None = None

    @property
    def is_sequence(self) -> bool:
        """True when the input is an image sequence."""
        return is_sequence_pattern(self.path)

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        if self.is_sequence:
            if self.path.suffix.lower() not in IMAGE_SUFFIXES:
                raise SpecProblem(f"image sequences are {', '.join(sorted(IMAGE_SUFFIXES))} files, "
                                  f"found {self.path.name}", "path")
            files = sequence_files(self.path)
            if not files:
                raise SpecProblem(f"no image of the sequence {self.path.name} found in "
                                  f"{self.path.parent}", "path")
            problem = sequence_problem(self.path, files)
            if problem is not None:
                raise SpecProblem(f"{self.path.name}: {problem}", "path")
            if self.fps is None:
                raise SpecProblem("an image sequence needs its frame rate, e.g. fps: 24", "fps")
        elif self.path.is_dir():
            raise SpecProblem(f"{self.path} is a folder; give a video file, or an image sequence pattern such "
                              f"as {self.path / 'shot.%04d.exr'}", "path")
        elif not self.path.is_file():
            raise SpecProblem(f"file not found: {self.path}", "path")
        elif self.path.suffix.lower() in IMAGE_SUFFIXES:
            raise SpecProblem(f"{self.path.name} is a single image, not a video; give a video file, or the shot's "
                              f"frames as an image sequence pattern such as shot.%04d{self.path.suffix}", "path")
        elif self.fps is not None:
            raise SpecProblem("only image sequences take fps; a video's timestamps come from "
                              "its file", "fps")
        return self


class OutputSpec(_PathFirst):
    """Where the result goes: a video, an image sequence, or both.

    YAML: ``out.mov`` or ``{path: out.mov, sequence: renders/sh010.%04d.png, overwrite: true}``.

    Attributes:
        path: the output video (its extension must suit ``encode.codec``).
        sequence: also (or only) write frames as images: a pattern like ``out.%04d.png``.
        overwrite: replace existing outputs; without it an existing output is an error.
    """

    path: OutPath | None = None
    sequence: OutPath | None = None
    overwrite: Bool = False

    @model_validator(mode="after")
    def _check(self) -> OutputSpec:
        if self.path is None and self.sequence is None:
            raise SpecProblem("give path (a video), sequence (an image pattern) or both")
        if self.path is not None:
            if is_sequence_pattern(self.path):
                raise SpecProblem(f"{self.path.name} is an image pattern; put it under "
                                  f"output.sequence", "path")
            if self.path.suffix.lower() not in VIDEO_OUTPUT_SUFFIXES:
                raise SpecProblem(f"expected a video file ({', '.join(sorted(VIDEO_OUTPUT_SUFFIXES))}), "
                                  f"found {self.path.name}", "path")
        if self.sequence is not None and not (is_sequence_pattern(self.sequence)
                                              and self.sequence.suffix.lower() in IMAGE_SUFFIXES):
            raise SpecProblem(f"expected an image pattern such as out.%04d.png (image types "
                              f"{', '.join(sorted(IMAGE_SUFFIXES))}), found {self.sequence.name}",
                              "sequence")
        return self


class TargetSpec(_Spec):
    """Which faces in the shot a swap replaces.

    YAML: ``all``, ``largest``, a reference photo, a list of them, or
    ``{select: reference, photos: [...], min_similarity: 0.4}``.

    Attributes:
        select: ``all`` faces, the ``largest`` face (by its track's median size), or faces
            matching the ``reference`` photos.
        photos: reference photos of the person to replace (``select: reference`` only).
        min_similarity: cosine similarity of identity embeddings above which a face matches
            a reference, in [-1, 1].
    """

    select: Literal["all", "largest", "reference"] = "all"
    photos: tuple[PhotoRef, ...] = ()
    min_similarity: Annotated[float, Strict(), Field(ge=-1.0, le=1.0)] = 0.4

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data in ("all", "largest") or (isinstance(data, str) and not Path(data).suffix):
            # A word without a file extension is a selection (a typo gets the list of them).
            return {"select": data}
        if isinstance(data, str | Path | list) or (isinstance(data, dict) and "path" in data):
            return {"select": "reference", "photos": _as_list(data)}
        if isinstance(data, dict) and "photos" in data and "select" not in data:
            return {**data, "select": "reference"}
        return data

    @model_validator(mode="after")
    def _check(self) -> TargetSpec:
        if self.select == "reference" and not self.photos:
            raise SpecProblem("select: reference needs at least one photo", "photos")
        if self.select != "reference" and self.photos:
            raise SpecProblem(f"select: {self.select} takes no photos; use select: reference",
                              "photos")
        return self

    def config(self) -> SelectConfig:
        """The track selector's own settings (the photos' embeddings are passed separately)."""
        from vidswap.faces.track import SelectConfig

        return SelectConfig(mode=self.select, threshold=self.min_similarity)


class SwapSpec(_Spec):
    """One (target → source) pair. Swaps are tried in order; a face takes the first that
    matches it.

    Attributes:
        target: the faces to replace (default: all faces).
        source: name of a set in ``sources``, the identity to put in.
        frames: restrict this swap to a range of frames.
    """

    target: TargetSpec = TargetSpec()
    source: str
    frames: FrameRange | None = None


class ModelSpec(_Spec):
    """The swap network and where it runs.

    Attributes:
        name: a weights-manifest or cache name (``ghost_unet_2blocks``, an imported name,
            ``tiny`` …). None with no ``path``: the manifest's ``defaults`` set, fetched on
            first use.
        path: a checkpoint file or folder instead of a name.
        refine: run HEAR-Net after AEI-Net (fixes occlusions; costs an extra AEI pass).
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        batch_size: face crops per batch, or ``auto`` (fit to device memory).
        precision: ``auto`` (fp16 autocast on CUDA, as ghost runs; fp32 on CPU), ``fp32``,
            ``bf16`` (opt-in: about 8x the error of fp16 against fp32), ``fp16``; the model keeps
            the parts that need it (its identity encoder) in fp32.
    """

    name: str | None = None
    path: InPath | None = None
    refine: Bool = True
    device: str = "auto"
    batch_size: BatchSize = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
            raise SpecProblem(f"expected auto, cpu, cuda or cuda:N, found {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.name is not None and self.path is not None:
            raise SpecProblem("give the model's name or its path, not both", "path")
        return self

    @property
    def weights(self) -> str | Path | None:
        """What :func:`vidswap.weights.cache.resolve` takes (None: the manifest's defaults)."""
        return self.path if self.path is not None else self.name


if TYPE_CHECKING:
    _Codec = str
    _Profile = str
    _BitDepth = int
else:  # the choices of vidswap.io.media, as Literals for the schema and its messages
    _Codec = Literal[CODEC_CHOICES]
    _Profile = Literal[PROFILE_CHOICES]
    _BitDepth = Literal[BIT_DEPTHS]


class EncodeSpec(_Spec):
    """How the output video is encoded (:class:`vidswap.io.codecs.EncodeSettings`).

    The codecs, their defaults, presets, bit depths, containers and profiles are those of
    :mod:`vidswap.io.media`; this section only says them in YAML.

    Unset ``crf`` and ``preset`` take the codec's post-production default (libx264 crf 16
    slow, libx265 crf 18 slow, h264_nvenc cq 19 p5), written into the resolved pipeline so a
    re-render on another machine encodes the same way.

    Attributes:
        codec: ``libx264``, ``libx265``, ``prores_ks``, ``dnxhd`` (DNxHR), ``ffv1`` (lossless),
            ``h264_nvenc``, or ``auto`` (h264_nvenc when a GPU encoder opens, else libx264).
        crf: constant quality 0-51, lower is better (x264/x265 crf, nvenc cq); ProRes, DNxHR
            and FFV1 have none.
        preset: speed/size trade-off (x264/x265: ultrafast … placebo; nvenc: p1 … p7).
        pix_fmt: FFmpeg pixel format (e.g. ``yuv422p10le``); None = the input's chroma and
            depth where the codec allows it (checked against the encoder at run time).
        profile: the codec's profile: prores_ks proxy, lt, standard, hq, 4444, 4444xq (None =
            hq, or 4444 for a 4:4:4 pixel format); dnxhd dnxhr_lb, dnxhr_sq, dnxhr_hq (8-bit
            4:2:2), dnxhr_hqx (10-bit 4:2:2), dnxhr_444 (10-bit 4:4:4) (None = the one of the
            input's depth and chroma: dnxhr_hq, dnxhr_hqx or dnxhr_444).
        bit_depth: bits per sample when ``pix_fmt`` is None; None = the input's.
        threads: encoder threads; 0 lets FFmpeg choose.
        audio: ``copy`` the audio (and subtitle) streams packet for packet, or ``none``.
    """

    codec: _Codec = DEFAULT_CODEC
    crf: Annotated[int, Strict(), Field(ge=CRF_RANGE[0], le=CRF_RANGE[1])] | None = None
    preset: str | None = None
    pix_fmt: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")] | None = None
    profile: _Profile | None = None
    bit_depth: _BitDepth | None = None
    threads: Annotated[int, Strict(), Field(ge=0)] = 0
    audio: Literal["copy", "none"] = "copy"

    @model_validator(mode="before")
    @classmethod
    def _codec_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        codec = data.get("codec", DEFAULT_CODEC)
        if codec not in CODEC_CHOICES:
            return data  # the codec's own check says what is wrong
        info = codec_info(codec)
        defaults = {"crf": info.crf, "preset": info.preset}
        return {**data, **{k: v for k, v in defaults.items() if v is not None and data.get(k) is None}}

    @model_validator(mode="after")
    def _check(self) -> EncodeSpec:
        from vidswap.io.codecs import pixel_format_depth  # imports PyAV only when called

        codec, info = self.codec, codec_info(self.codec)
        if self.crf is not None and info.quality != "crf":
            why = "its profile sets the quality" if info.quality == "profile" else "it is lossless"
            raise SpecProblem(f"{codec} has no crf ({why}); remove crf", "crf")
        if self.preset is not None and self.preset not in info.presets:
            allowed = info.presets
            expected = (f"one of {', '.join(allowed)}" if allowed else
                        "none: presets depend on the codec auto picks" if codec == "auto" else
                        "none (remove it)")
            raise SpecProblem(f"{codec} preset: expected {expected}, found {self.preset!r}",
                              "preset")
        if self.profile is not None and info.quality != "profile":
            takers = ", ".join(c.name for c in VIDEO_CODECS.values() if c.quality == "profile")
            raise SpecProblem(f"profile is for {takers}; {codec} takes none", "profile")
        if self.profile is not None and self.profile not in info.profiles:
            raise SpecProblem(f"{codec} profile: expected one of {', '.join(info.profiles)}, found {self.profile!r}",
                              "profile")
        profile_formats = info.profiles[self.profile].pix_fmts if self.profile is not None else ()
        if self.bit_depth is not None and self.bit_depth not in info.bit_depths:
            raise SpecProblem(f"{codec} encodes {'/'.join(map(str, info.bit_depths))}-bit "
                              f"video, not {self.bit_depth}-bit", "bit_depth")
        if profile_formats and self.bit_depth is not None:
            if all(pixel_format_depth(f) != self.bit_depth for f in profile_formats):
                raise SpecProblem(f"{codec} profile {self.profile} is {pixel_format_depth(profile_formats[0])}-bit, "
                                  f"not {self.bit_depth}-bit; set one of them", "bit_depth")
        if self.pix_fmt is not None:
            try:
                depth = pixel_format_depth(self.pix_fmt)
            except ValueError as err:
                raise SpecProblem(f"{self.pix_fmt} is not an FFmpeg pixel format (e.g. yuv420p10le)",
                                  "pix_fmt") from err
            if self.bit_depth is not None and depth != self.bit_depth:
                raise SpecProblem(f"pix_fmt {self.pix_fmt} is {depth}-bit but bit_depth is "
                                  f"{self.bit_depth}; set one of them", "pix_fmt")
            if profile_formats and self.pix_fmt not in profile_formats:
                raise SpecProblem(f"{codec} profile {self.profile} needs pix_fmt {' or '.join(profile_formats)}, "
                                  f"found {self.pix_fmt}", "pix_fmt")
        return self

    def suits(self, path: Path) -> bool:
        """True when the container of ``path`` (by extension) can hold this codec."""
        return path.suffix.lower() in codec_info(self.codec).containers

    def settings(self) -> EncodeSettings:
        """The writer's own settings (``audio`` is the writer's ``copy_streams``)."""
        from vidswap.io.codecs import EncodeSettings

        return EncodeSettings(codec=self.codec, crf=self.crf, preset=self.preset,
                              pix_fmt=self.pix_fmt, bit_depth=self.bit_depth,
                              profile=self.profile, threads=self.threads)


if TYPE_CHECKING:
    _LayerFormat = str
else:  # the choices of vidswap.io.layers
    _LayerFormat = Literal[LAYER_FORMAT_CHOICES]


class TurnoverSpec(_Spec):
    """A VFX turnover for a compositor (:mod:`vidswap.pipeline.turnover`).

    YAML: ``turnover: DIR`` or ``{dir: DIR, format: exr}``.

    Attributes:
        dir: the folder the turnover is written to (made when missing; its parent must exist).
        format: the layer and matte files: ``exr`` (half), ``exr-float``, ``tiff`` or ``png`` (16-bit).
    """

    dir: OutPath
    format: _LayerFormat = DEFAULT_LAYER_FORMAT

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"dir": data} if isinstance(data, str | Path) else data


#: The ``detector`` section: the detector's own settings (:class:`~vidswap.faces.detect.DetectorConfig`,
#: declared there), its ``model_root`` a path relative to the pipeline file.
_Detector = Annotated[DetectorConfig, paths_in("model_root")]
# The ``smoothing`` and ``mask`` sections are :class:`~vidswap.faces.smooth.SmootherConfig` and
# :class:`~vidswap.faces.mask_config.MaskConfig` as they are.


class OverrideSpec(_Spec):
    """Different settings for a range of frames (frame-range reprocessing).

    Each section given is the top-level section with the override's keys changed (merged when
    the file is loaded); sections not given keep the top-level settings. Where overrides
    overlap, the later one wins for the sections it names. Encode, input, output and sources
    apply to the whole render and cannot be overridden.

    Attributes:
        frames: the range the override applies to.
    """

    frames: FrameRange
    swaps: tuple[SwapSpec, ...] | None = None
    model: ModelSpec | None = None
    detector: _Detector | None = None
    smoothing: SmootherConfig | None = None
    mask: MaskConfig | None = None
    watermark: Bool | None = None

    def changes(self) -> list[str]:
        """The sections this override changes, in :data:`OVERRIDABLE` order."""
        return [name for name in OVERRIDABLE if getattr(self, name) is not None]


#: The sections a frame-range override may change (the fields of :class:`OverrideSpec`).
OVERRIDABLE = tuple(name for name in OverrideSpec.model_fields if name != "frames")
#: Overridable sections that are mappings: an override's keys are merged into the top level's.
_MERGED_SECTIONS = tuple(name for name in OVERRIDABLE if name not in ("swaps", "watermark"))
#: What an override's model section may change (one model is loaded for the whole render).
OVERRIDABLE_MODEL_KEYS = ("refine",)


def _deep_merge(base: Any, changes: Any) -> Any:
    if not (isinstance(base, dict) and isinstance(changes, dict)):
        return changes
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _deep_merge(base.get(key), value)
    return merged


class PipelineSpec(_Spec):
    """A whole render: the shot, who is swapped with whom, and every setting.

    Build it with :func:`vidswap.pipeline.load_pipeline`, which reads YAML, applies
    command-line overrides and reports problems as ``FILE:LINE:COL: key: problem``.

    Attributes:
        version: format version of the file (see :mod:`vidswap.pipeline.compat`).
        input: the shot.
        output: where the result goes.
        matte: also write the soft face mask as a greyscale video (lossless, same frames and
            timestamps) or image sequence, for re-compositing.
        turnover: also write a VFX turnover (the face as an RGBA layer, tracking, a Nuke script).
        frames: process only this range (default: every frame).
        sources: named identities: name -> photos of that person (their embeddings are
            averaged).
        swaps: (target → source) pairs; may be omitted when there is one source set (then all
            faces take it).
        watermark: burn a visible "synthetic" mark into the frames.
        overrides: settings for frame ranges, applied on top of the rest.
    """

    version: Literal[1] = CURRENT_VERSION
    input: InputSpec
    output: OutputSpec
    matte: OutPath | None = None
    turnover: TurnoverSpec | None = None
    frames: FrameRange | None = None
    sources: Annotated[dict[str, Annotated[tuple[PhotoRef, ...], Field(min_length=1)]],
                       Field(min_length=1)]
    swaps: tuple[SwapSpec, ...] = ()
    model: ModelSpec = ModelSpec()
    detector: _Detector = DetectorConfig()
    smoothing: SmootherConfig = SmootherConfig()
    mask: MaskConfig = MaskConfig()
    encode: EncodeSpec = EncodeSpec()
    watermark: Bool = False
    overrides: tuple[OverrideSpec, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        sources = data.get("sources")
        if isinstance(sources, dict):
            data["sources"] = {name: _as_list(photos) for name, photos in sources.items()}
            if "swaps" not in data and len(sources) == 1:
                data["swaps"] = [{"source": next(iter(sources))}]
        if isinstance(data.get("overrides"), list):
            for j, item in enumerate(data["overrides"]):
                model = item.get("model") if isinstance(item, dict) else None
                for key in model if isinstance(model, dict) else ():
                    if key not in OVERRIDABLE_MODEL_KEYS:
                        raise SpecProblem(
                            f"only {', '.join(OVERRIDABLE_MODEL_KEYS)} can change for a frame range; "
                            "the weights, device, batch size and precision apply to the whole render",
                            "overrides", j, "model", key)
            data["overrides"] = [
                {key: _deep_merge(data.get(key), value) if key in _MERGED_SECTIONS else value
                 for key, value in item.items()} if isinstance(item, dict) else item
                for item in data["overrides"]]
        return data

    @model_validator(mode="after")
    def _check(self) -> PipelineSpec:
        if not self.swaps:
            raise SpecProblem(f"there are {len(self.sources)} source sets; say which faces "
                              f"take which with swaps: [{{target: …, source: NAME}}]", "swaps")
        named: list[tuple[tuple[str | int, ...], SwapSpec]] = [
            (("swaps", i), swap) for i, swap in enumerate(self.swaps)]
        named += [(("overrides", j, "swaps", i), swap) for j, o in enumerate(self.overrides)
                  for i, swap in enumerate(o.swaps or ())]
        for loc, swap in named:
            if swap.source not in self.sources:
                raise SpecProblem(f"{swap.source!r} is not a source set; sources has "
                                  f"{', '.join(self.sources)}", *loc, "source")
        outputs: list[tuple[tuple[str, ...], Path | None]] = [
            (("output", "path"), self.output.path), (("output", "sequence"), self.output.sequence),
            (("matte",), self.matte), (("turnover", "dir"), self.turnover.dir if self.turnover else None)]
        seen = {self.input.path.resolve(): "input.path"}
        for loc, path in outputs:
            if path is None:
                continue
            if path.resolve() in seen:
                raise SpecProblem(f"{path} is also {seen[path.resolve()]}; vidswap never writes "
                                  f"over its input or one output with another", *loc)
            seen[path.resolve()] = ".".join(loc)
        if self.output.path is not None and not self.encode.suits(self.output.path):
            raise SpecProblem(f"a {self.output.path.suffix} file cannot hold {self.encode.codec}; "
                              f"use {', '.join(codec_info(self.encode.codec).containers)}", "output",
                              "path")
        matte_containers = VIDEO_CODECS[MATTE_CODEC].containers
        if self.matte is not None and not (
                (is_sequence_pattern(self.matte) and self.matte.suffix.lower() in IMAGE_SUFFIXES)
                or self.matte.suffix.lower() in matte_containers):
            raise SpecProblem(f"the matte is written losslessly ({MATTE_CODEC}): use "
                              f"{', '.join(matte_containers)} or an image pattern such as "
                              f"matte.%04d.png, found {self.matte.name}", "matte")
        return self

    def with_override(self, override: OverrideSpec) -> PipelineSpec:
        """This pipeline's settings inside ``override``'s frames (without the overrides list).

        Args:
            override: one of ``self.overrides``.

        Returns:
            A copy whose sections named by the override are replaced by the override's.
        """
        changes = {key: getattr(override, key) for key in override.changes()}
        return self.model_copy(update={**changes, "overrides": ()})

    def to_json(self, *, indent: int | None = 2) -> str:
        """The resolved pipeline as JSON: absolute paths, every default filled in.

        ``load_pipeline`` reads this back (JSON is YAML) to the same spec.
        """
        return self.model_dump_json(indent=indent)
