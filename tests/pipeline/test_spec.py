"""Pipeline files: schema, error positions, path resolution, options, versions, examples."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from vidswap.errors import ConfigError, SpecError
from vidswap.pipeline import compat, load_pipeline, pipeline_from_options
from vidswap.pipeline.ranges import FrameRangeSpec
from vidswap.pipeline.spec import PipelineSpec

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "pipelines").glob("*.yaml"))

BASE = """\
version: 1
input: media/shot.mp4
output: out/shot_swap.mp4
sources:
  anna: [photos/anna1.jpg, photos/anna2.jpg]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a (fake) shot and photos; the spec checks existence, not content."""
    for name in ("media/shot.mp4", "photos/anna1.jpg", "photos/anna2.jpg", "photos/ben.jpg",
                 "photos/ref.jpg", "weights/model.safetensors"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def write(folder: Path, text: str, name: str = "pipe.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path, overrides: dict | None = None, **kwargs: object) -> tuple[str, ...]:
    with pytest.raises(SpecError) as info:
        load_pipeline(path, overrides, **kwargs)
    return info.value.problems


def line_of(path: Path, text: str) -> int:
    """1-based line of the first line of ``path`` containing ``text``."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


class TestExamples:
    @pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
    def test_every_example_validates(self, example: Path, shared: Path) -> None:
        if (REPO.parent / "shared").resolve() != shared.resolve():
            pytest.skip(f"the examples name media under {REPO.parent / 'shared'}; the shared "
                        f"assets are at {shared} (put or link them there)")
        spec = load_pipeline(example)
        assert spec.input.path.is_file()
        assert all(p.path.is_file() for photos in spec.sources.values() for p in photos)

    def test_examples_exist(self) -> None:
        assert len(EXAMPLES) >= 3


class TestLoadPipeline:
    def test_defaults_and_resolved_paths(self, project: Path, tmp_path_factory,
                                         monkeypatch) -> None:
        path = write(project, BASE)
        monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
        spec = load_pipeline(path)
        assert spec.input.path == project / "media/shot.mp4"
        assert spec.output.path == project / "out/shot_swap.mp4"
        assert [p.path for p in spec.sources["anna"]] == [project / "photos/anna1.jpg",
                                                         project / "photos/anna2.jpg"]
        # One source set and no swaps: every face takes it.
        assert len(spec.swaps) == 1 and spec.swaps[0].source == "anna"
        assert spec.swaps[0].target.select == "all"
        assert (spec.encode.codec, spec.encode.crf, spec.encode.preset) == ("libx264", 16, "slow")
        assert spec.detector.backend == "yunet_onnx" and spec.model.refine
        assert spec.model.weights is None  # the weights manifest's defaults

    def test_to_json_reads_back_to_the_same_spec(self, project: Path) -> None:
        path = write(project, BASE.replace("shot_swap.mp4", "shot_swap.mov") + """\
frames: 00:00:01:00-00:00:04:00
matte: out/matte.mkv
encode: {codec: prores_ks, profile: "4444", pix_fmt: yuv444p10le}
overrides:
  - frames: "10:"
    mask: {blur: 0.2}
""")
        spec = load_pipeline(path)
        again = load_pipeline(write(project, spec.to_json(), "resolved.json"))
        assert again == spec
        assert pickle.loads(pickle.dumps(spec)) == spec  # jobs and Ray tasks carry it
        assert PipelineSpec.model_validate(spec.model_dump()) == spec
        assert json.loads(spec.to_json())["frames"] == "00:00:01:00-00:00:04:00"

    def test_frozen(self, project: Path) -> None:
        spec = load_pipeline(write(project, BASE))
        with pytest.raises(ValueError):
            spec.watermark = True  # type: ignore[misc]

    def test_targets_and_face_index(self, project: Path) -> None:
        spec = load_pipeline(write(project, """\
            version: 1
            input: media/shot.mp4
            output: out/x.mp4
            sources:
              anna: [photos/anna1.jpg]
              ben: [{path: photos/ben.jpg, face: 1}]
            swaps:
              - {target: photos/ref.jpg, source: anna}
              - {target: largest, source: ben, frames: 0-99}
            """))
        first, second = spec.swaps
        assert first.target.select == "reference"
        assert first.target.photos[0].path == project / "photos/ref.jpg"
        assert second.target.select == "largest" and second.frames == FrameRangeSpec(start=0, end=99)
        assert spec.sources["ben"][0].face == 1

    def test_image_sequence_input(self, project: Path) -> None:
        for i in (1001, 1002):
            (project / "media" / f"plate.{i:04d}.exr").write_bytes(b"x")
        text = BASE.replace("media/shot.mp4", "{path: media/plate.%04d.exr, fps: 23.976}")
        spec = load_pipeline(write(project, text))
        assert spec.input.is_sequence and spec.input.fps.denominator == 1001
        lines = problems(write(project, BASE.replace("media/shot.mp4", "media/plate.####.exr")))
        assert "needs its frame rate" in lines[0]
        lines = problems(write(project, BASE.replace("media/shot.mp4",
                                                     "{path: media/none.%04d.exr, fps: 24}")))
        assert "no image of the sequence none.%04d.exr" in lines[0]

    def test_override_sections_merge_with_the_top_level(self, project: Path) -> None:
        spec = load_pipeline(write(project, BASE + """\
mask: {erosion: 0.07, blur: 0.01}
model: {name: tiny}
overrides:
  - frames: 100-150
    mask: {blur: 0.2}
    model: {refine: false}
"""))
        override = spec.overrides[0]
        assert (override.mask.erosion, override.mask.blur) == (0.07, 0.2)
        assert (spec.model.refine, override.model.refine) == (True, False)
        assert override.model.weights == spec.model.weights == "tiny"
        inside = spec.with_override(override)
        assert inside.mask == override.mask and inside.overrides == ()
        assert inside.detector == spec.detector

    @pytest.mark.parametrize("key", ["path: weights/model.safetensors", "batch_size: 4", "device: cpu"])
    def test_override_cannot_change_the_loaded_model(self, project: Path, key: str) -> None:
        path = write(project, BASE + f"""\
overrides:
  - frames: 100-150
    model: {{{key}}}
""")
        (line,) = problems(path)
        assert line.startswith(f"{path}:{line_of(path, key)}:")
        assert "only refine can change for a frame range" in line

    def test_sections_are_the_stage_settings(self, project: Path) -> None:
        from vidswap.faces.detect import BACKENDS, Backend, DetectorConfig
        from vidswap.faces.mask import MaskConfig
        from vidswap.faces.smooth import SmootherConfig
        from vidswap.faces.track import SelectConfig

        spec = load_pipeline(write(project, BASE))
        # The schema's sections are the stages' own settings, with their (tuned) defaults.
        assert spec.detector == DetectorConfig()
        assert spec.smoothing == SmootherConfig()
        assert spec.mask == MaskConfig()
        assert spec.swaps[0].target.config() == SelectConfig()
        assert set(get_args(Backend)) == set(BACKENDS)
        changed = load_pipeline(write(project, BASE), {
            "detector.backend": "yunet_kornia", "detector.model_root": "/packs",
            "mask.colour_match": "lab", "smoothing.lag": 3, "output.path": "o.mov",
            "encode": {"codec": "prores_ks", "profile": "4444", "pix_fmt": "yuv444p10le"}})
        assert changed.detector == DetectorConfig(backend="yunet_kornia", model_root=Path("/packs"))
        assert changed.mask.colour_match == "lab" and changed.smoothing.lag == 3
        settings = changed.encode.settings()
        assert (settings.codec, settings.profile, settings.pix_fmt) == ("prores_ks", "4444", "yuv444p10le")
        assert spec.encode.settings().crf == 16

    def test_codec_defaults(self, project: Path) -> None:
        spec = load_pipeline(write(project, BASE.replace("shot_swap.mp4", "shot_swap.mov")
                                   + "encode: {codec: prores_ks}\n"))
        assert (spec.encode.crf, spec.encode.preset, spec.encode.profile) == (None, None, None)


class TestErrors:
    def test_unknown_keys_named_with_position(self, project: Path) -> None:
        path = write(project, BASE + "fps: 24\nencode:\n  codec: libx264\n  crff: 12\n"
                     "swaps:\n  - source: anna\n    sorce: x\n")
        lines = problems(path)
        assert f"{path}:{line_of(path, 'fps:')}:1: fps: unknown key 'fps'" in lines[0]
        crff = next(line for line in lines if "crff" in line)
        assert crff.startswith(f"{path}:{line_of(path, 'crff')}:3: encode.crff: unknown key")
        assert "did you mean 'crf'?" in crff
        sorce = next(line for line in lines if "sorce" in line)
        assert sorce.startswith(f"{path}:{line_of(path, 'sorce')}:5: swaps.0.sorce:")
        assert all("\n" not in line for line in lines)

    @pytest.mark.parametrize(("snippet", "key", "says"), [
        ("encode: {crf: high}", "encode.crf", "valid integer, found 'high'"),
        ("encode: {crf: 70}", "encode.crf", "less than or equal to 51"),
        ("encode: {codec: h264}", "encode.codec", "'libx264'"),
        ("model: {refine: 1}", "model.refine", "valid boolean, found 1"),
        ("model: {device: gpu}", "model.device", "expected auto, cpu, cuda or cuda:N"),
        ("model: {name: tiny, path: weights/model.safetensors}", "model.path", "not both"),
        ("model: {batch_size: 0}", "model.batch_size", "'auto' or a whole number"),
        ("detector: {score_threshold: 2.0}", "detector.score_threshold",
         "less than or equal to 1"),
        ("detector: {min_face_size: true}", "detector.min_face_size", "valid number"),
        ("detector: {long_side: 32}", "detector.long_side", "0 (full size) or at least 64"),
        ("detector: {backend: yunet-onnx}", "detector.backend", "'yunet_onnx'"),
        ("smoothing: {lag: -1}", "smoothing.lag", "greater than or equal to 0"),
        ("mask: {erosion: 4}", "mask.erosion", "less than 0.5"),
        ("mask: {colour_match: true}", "mask.colour_match", "'none', 'lab' or 'rgb'"),
        ("watermark: 'no'", "watermark", "valid boolean"),
        ("frames: 120-480-9", "frames", "one '-'"),
        ("frames: 00:00:04:00-00:00:61:00", "frames", "below 60"),
        ("overrides: [{mask: {blur: 3}}]", "overrides.0.frames", "required key missing"),
        ("overrides: [{frames: 5-1}]", "overrides.0.frames", "start comes after the end"),
        ("overrides: [{frames: 1-5, encode: {crf: 3}}]", "overrides.0.encode", "unknown key"),
        ("swaps: [{source: nobody}]", "swaps.0.source", "'nobody' is not a source set"),
        ("swaps: [{source: anna, target: everyone}]", "swaps.0.target.select", "'largest'"),
        ("swaps: [{source: anna, target: {select: all, photos: [photos/ref.jpg]}}]",
         "swaps.0.target.photos", "takes no photos"),
        ("matte: out/matte.mp4", "matte", "use .mkv, .avi"),
        ("encode: {codec: prores_ks, crf: 10}", "encode.crf", "prores_ks has no crf"),
        ("encode: {codec: libx264, bit_depth: 12}", "encode.bit_depth", "8/10-bit"),
        ("encode: {codec: libx264, preset: p5}", "encode.preset", "one of ultrafast"),
        ("encode: {codec: auto, preset: slow}", "encode.preset", "depend on the codec auto picks"),
        ("encode: {codec: libx264, profile: hq}", "encode.profile", "profile is for prores_ks, dnxhd"),
        ("encode: {codec: dnxhd, profile: hq}", "encode.profile", "dnxhd profile: expected one of dnxhr_lb"),
        ("encode: {codec: dnxhd, crf: 10}", "encode.crf", "dnxhd has no crf"),
        ("encode: {codec: dnxhd, bit_depth: 12}", "encode.bit_depth", "8/10-bit"),
        ("encode: {codec: dnxhd, profile: dnxhr_hq, bit_depth: 10}", "encode.bit_depth", "dnxhr_hq is 8-bit"),
        ("encode: {codec: dnxhd, profile: dnxhr_hqx, pix_fmt: yuv422p}", "encode.pix_fmt",
         "needs pix_fmt yuv422p10le"),
        ("encode: {codec: prores_ks, profile: '4444', pix_fmt: yuv422p10le}", "encode.pix_fmt",
         "needs pix_fmt yuv444p10le or yuva444p10le"),
        ("encode: {codec: libx264, bit_depth: 8, pix_fmt: yuv420p10le}", "encode.pix_fmt",
         "is 10-bit"),
    ])
    def test_wrong_values_name_key_and_line(self, project: Path, snippet: str, key: str,
                                            says: str) -> None:
        path = write(project, BASE + snippet + "\n")
        line = next(line for line in problems(path) if f": {key}:" in line)
        assert line.startswith(f"{path}:{line_of(path, snippet.split(':')[0])}:")
        assert says in line

    def test_output_checks(self, project: Path) -> None:
        same = write(project, BASE.replace("out/shot_swap.mp4", "media/./shot.mp4"))
        assert "is also input.path" in problems(same)[0]
        prores = write(project, BASE + "encode: {codec: prores_ks}\n")
        line = problems(prores)[0]
        assert line.startswith(f"{prores}:3:1: output.path: a .mp4 file cannot hold prores_ks")

    def test_missing_files_name_file_line_key_and_path(self, project: Path) -> None:
        path = write(project, BASE.replace("photos/anna2.jpg", "photos/gone.jpg")
                     + "swaps: [{source: anna, target: [photos/nope.png]}]\n")
        first, second = problems(path)
        assert first.startswith(f"{path}:5:")
        assert "sources.anna.1.path: file not found" in first
        assert str(project / "photos/gone.jpg") in first
        assert "swaps.0.target.photos.0.path: file not found" in second
        video = write(project, BASE.replace("media/shot.mp4", "media/missing.mov"))
        assert problems(video)[0].startswith(f"{video}:2:1: input.path: file not found: "
                                             f"{project / 'media/missing.mov'}")

    def test_several_problems_in_one_error(self, project: Path) -> None:
        with pytest.raises(SpecError) as info:
            load_pipeline(write(project, BASE + "fps: 1\ncodec: x\n"))
        assert len(info.value.problems) == 2
        assert "and 1 more problem" in str(info.value)
        assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)
        assert pickle.loads(pickle.dumps(info.value)).problems == info.value.problems

    def test_two_sources_need_swaps(self, project: Path) -> None:
        path = write(project, BASE + "  ben: photos/ben.jpg\n")
        assert "there are 2 source sets" in problems(path)[0]

    @pytest.mark.parametrize(("text", "says"), [
        ("version: 1\ninput: [a\noutput: b\n", ":3:"),
        ("version: 1\nversion: 2\n", ":2:1: invalid YAML: found duplicate key"),
        ("version: 1\n\tinput: x\n", ":2:1: invalid YAML"),
        ("version: 1\nframes: 120:\n", "quote values"),
        ("- version: 1\n", ":1:1: expected a mapping of pipeline settings"),
        ("", "found an empty file"),
    ])
    def test_malformed_yaml(self, tmp_path: Path, text: str, says: str) -> None:
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as info:
            load_pipeline(path)
        assert str(info.value).startswith(str(path))
        assert says in str(info.value)
        assert "\n" not in str(info.value)

    def test_missing_pipeline_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="pipeline file not found"):
            load_pipeline(tmp_path / "nope.yaml")


class TestOverrides:
    def test_options_win_over_the_file(self, project: Path) -> None:
        path = write(project, BASE + "encode: {crf: 20}\nmodel: {refine: true}\n")
        spec = load_pipeline(path, {"encode.crf": 14, "model.refine": False, "frames": "5-9"})
        assert spec.encode.crf == 14 and spec.model.refine is False
        assert spec.frames == FrameRangeSpec(start=5, end=9)
        assert load_pipeline(path).encode.crf == 20

    def test_option_paths_are_relative_to_the_working_directory(self, project: Path,
                                                                tmp_path_factory,
                                                                monkeypatch) -> None:
        cwd = tmp_path_factory.mktemp("cwd")
        (cwd / "other.jpg").write_bytes(b"x")
        monkeypatch.chdir(cwd)
        spec = load_pipeline(write(project, BASE),
                             {"output.path": "renders/o.mov", "sources.anna": ["other.jpg"]})
        assert spec.output.path == cwd / "renders/o.mov"
        assert spec.sources["anna"][0].path == cwd / "other.jpg"
        assert spec.input.path == project / "media/shot.mp4"

    def test_short_form_opens_up(self, project: Path) -> None:
        spec = load_pipeline(write(project, BASE), {"output.overwrite": True})
        assert spec.output.overwrite and spec.output.path == project / "out/shot_swap.mp4"

    def test_errors_name_the_option(self, project: Path) -> None:
        path = write(project, BASE)
        line = problems(path, {"encode.crf": "abc"}, option_names={"encode.crf": "--crf"})[0]
        assert line == f"{path}: option --crf (encode.crf): Input should be a valid integer, found 'abc'"
        line = problems(path, {"detector.thresh": 0.3})[0]
        assert line.startswith(f"{path}: option detector.thresh: unknown key 'thresh'")
        line = problems(path, {"sources.anna": ["gone.jpg"]})[0]
        assert line.startswith(f"{path}: option sources.anna: sources.anna.0.path: file not found")

    @pytest.mark.parametrize(("options", "says"), [
        ({"swaps.3.source": "anna"}, "index below 1"),
        ({"encode..crf": 1}, "dotted key"),
        ({"version.x": 1}, "has no key 'x'"),
    ])
    def test_bad_option_keys(self, project: Path, options: dict, says: str) -> None:
        path = write(project, BASE + "swaps: [{source: anna}]\n")
        with pytest.raises(ConfigError, match=says):
            load_pipeline(path, options)


class TestVersions:
    def test_version_is_required(self, project: Path) -> None:
        path = write(project, BASE.replace("version: 1\n", ""))
        with pytest.raises(ConfigError, match=r":1:1: version: missing; start the file with"):
            load_pipeline(path)

    @pytest.mark.parametrize(("version", "says"), [
        ("2", "newer than this vidswap reads"),
        ("one", "expected a whole number"),
        ("0", "no longer supported"),
    ])
    def test_bad_versions(self, project: Path, version: str, says: str) -> None:
        path = write(project, BASE.replace("version: 1", f"version: {version}"))
        with pytest.raises(ConfigError, match=says) as info:
            load_pipeline(path)
        assert str(info.value).startswith(f"{path}:1:1: version:")

    def test_old_version_is_upgraded(self, project: Path, monkeypatch) -> None:
        def rename_video_to_input(data: dict) -> dict:
            data["input"] = data.pop("video")
            return data

        monkeypatch.setitem(compat.UPGRADES, 0, rename_video_to_input)
        old = write(project, BASE.replace("version: 1", "version: 0")
                    .replace("input:", "video:"))
        assert load_pipeline(old) == load_pipeline(write(project, BASE, "new.yaml"))

    def test_upgrades_chain_in_order(self, monkeypatch) -> None:
        monkeypatch.setattr(compat, "CURRENT_VERSION", 3)
        monkeypatch.setattr(compat, "UPGRADES", {1: lambda d: {**d, "steps": [1]},
                                                 2: lambda d: {**d, "steps": d["steps"] + [2]}})
        original = {"version": 1}
        assert compat.upgrade(original, 1) == {"version": 3, "steps": [1, 2]}
        assert original == {"version": 1}

    def test_spec_version_is_current(self, project: Path) -> None:
        assert load_pipeline(write(project, BASE)).version == compat.CURRENT_VERSION
        assert PipelineSpec.model_fields["version"].default == compat.CURRENT_VERSION


class TestPipelineFromOptions:
    def test_builds_from_options_relative_to_the_working_directory(self, project: Path,
                                                                   monkeypatch) -> None:
        monkeypatch.chdir(project)
        spec = pipeline_from_options({"input": "media/shot.mp4", "output.path": "o.mp4",
                                      "sources.source": ["photos/anna1.jpg"],
                                      "model.refine": False})
        assert spec.input.path == project / "media/shot.mp4"
        assert spec.swaps[0].source == "source" and not spec.model.refine

    def test_errors_name_options_and_missing_keys(self, project: Path, monkeypatch) -> None:
        monkeypatch.chdir(project)
        with pytest.raises(SpecError) as info:
            pipeline_from_options({"sources.source": ["gone.jpg"]},
                                  option_names={"sources.source": "--source"})
        assert sorted(line.split(": ")[0] for line in info.value.problems) == [
            "input", "option --source (sources.source)", "output"]
        assert any(line.startswith("option --source (sources.source): sources.source.0.path: "
                                   "file not found") for line in info.value.problems)
        assert "input: required key missing" in info.value.problems
