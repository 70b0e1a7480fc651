"""The VFX turnover, end to end on a tiny render (tiny random model, stub detector), judged by the
oracle: the premultiplied layer composited over the plate in float (numpy) is vidswap's lossless
output within one code value; the EXR headers hold the source timecode and rate; the Nuke script
parses to Read -> Merge2 over -> Grade (masked by the matte) over the rendered range; the tracking
data re-creates the crop transform the render used."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from tests import oracle
from tests.io.media import frame_image
from tests.pipeline.run_helpers import StubDetector, make_tiny_model, write_photo
from vidswap.pipeline import pipeline_from_options
from vidswap.pipeline.runner import run_pipeline
from vidswap.pipeline.session import RunOptions
from vidswap.pipeline.turnover import TurnoverLayers

SECONDS = 0.4  # 10 frames at 25 fps


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    oracle.require_tools()
    folder = tmp_path_factory.mktemp("turnover")
    clip = folder / "plate.mkv"
    oracle.ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={SECONDS}", "-c:v", "ffv1",
                  "-pix_fmt", "gbrp", "-timecode", "01:00:10:00", str(clip))
    return {"tiny": make_tiny_model(folder / "tiny.safetensors"), "clip": clip,
            "photo": write_photo(folder / "me.png", frame_image(3, 128, 128)), "folder": folder}


def _spec(assets: dict[str, Path], out: Path, **options):
    return pipeline_from_options({"input": str(assets["clip"]), "sources.me": [str(assets["photo"])],
                                  "output.path": str(out), "model.path": str(assets["tiny"]), "model.batch_size": 4,
                                  "encode.codec": "ffv1", **options})


@pytest.fixture(scope="module")
def streamed(assets: dict[str, Path]) -> dict[str, object]:
    """A streaming render with a turnover, and the crop transforms the render used (frame pixels)."""
    folder = assets["folder"] / "stream"
    folder.mkdir()
    used: dict[int, np.ndarray] = {}
    occlusion: dict[int, np.ndarray] = {}
    original = TurnoverLayers.add

    def spy(self, index, crops, rgb, soft):  # noqa: ANN001, ANN202
        if crops is not None:
            matrices = crops.crop_from_region.double().cpu().clone()
            origin = torch.tensor([float(crops.box[0]), float(crops.box[1])], dtype=torch.float64)
            matrices[:, :, 2] -= matrices[:, :, :2] @ origin  # region pixels -> frame pixels
            used[index] = matrices.numpy()
            occlusion[index] = crops.occlusion.cpu().numpy()
        return original(self, index, crops, rgb, soft)

    TurnoverLayers.add = spy  # type: ignore[method-assign]
    try:
        out = folder / "out.mkv"
        run_pipeline(_spec(assets, out, **{"turnover.dir": str(folder / "turnover")}),
                     RunOptions(progress=False, detector=StubDetector()))
    finally:
        TurnoverLayers.add = original  # type: ignore[method-assign]
    return {"out": out, "turnover": folder / "turnover", "used": used, "occlusion": occlusion}


def test_layer_over_plate_is_the_output(assets: dict[str, Path], streamed: dict[str, object]) -> None:
    turnover, out = streamed["turnover"], streamed["out"]
    assert isinstance(turnover, Path) and isinstance(out, Path)
    plate = oracle.planes(assets["clip"], "gbrp")
    output = oracle.planes(out, "gbrp")
    layers = sorted((turnover / "layer").glob("face.*.exr"))
    assert [p.name for p in layers] == [f"face.{i:04d}.exr" for i in range(10)]
    assert oracle.exr_channel_types(layers[0]) == {"A": "half", "B": "half", "G": "half", "R": "half"}
    covered = 0
    for index, path in enumerate(layers):
        g, b, r = (p.astype(np.float64) / 255 for p in plate.frames[index])
        rgb = np.stack([r, g, b], axis=-1)
        layer = oracle.rgba_image(path).astype(np.float64)
        alpha = layer[..., 3:]
        comp = np.rint((rgb * (1 - alpha) + layer[..., :3]) * 255)
        og, ob, orr = output.frames[index]
        expected = np.stack([orr, og, ob], axis=-1).astype(np.float64)
        assert np.abs(comp - expected).max() <= 1, f"frame {index}"
        assert (layer[alpha[..., 0] == 0][:, :3] == 0).all()  # nothing outside the matte
        matte = oracle.grey_image(turnover / "matte" / f"matte.{index:04d}.exr")
        assert np.array_equal(matte, layer[..., 3])
        covered += int((alpha > 0).sum())
    assert covered > 0


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``(x, y)`` (pixel centres at integers), 0 outside."""
    height, width = image.shape
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    out = np.zeros(x.shape)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - np.abs(x - xi)) * (1 - np.abs(y - yi))
            inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
            out += np.where(inside, weight * image[np.clip(yi, 0, height - 1), np.clip(xi, 0, width - 1)], 0)
    return out


def test_the_occlusion_estimate_lands_where_the_face_is(streamed: dict[str, object]) -> None:
    """HEAR-Net's occlusion estimate of each crop, warped into the frame by an independent (numpy)
    bilinear sampler through the crop transform the render used, is the occlusion file."""
    turnover, used, occlusion = streamed["turnover"], streamed["used"], streamed["occlusion"]
    assert isinstance(turnover, Path) and isinstance(used, dict) and isinstance(occlusion, dict)
    files = sorted((turnover / "occlusion").glob("occlusion.*.exr"))
    assert [p.name for p in files] == [f"occlusion.{i:04d}.exr" for i in range(10)]
    manifest = json.loads((turnover / "manifest.json").read_text())
    assert manifest["occlusion"] == "occlusion/occlusion.%04d.exr"
    assert {f"occlusion/{p.name}" for p in files} <= set(manifest["files"])
    ys, xs = np.mgrid[0:120, 0:160].astype(np.float64)
    for index, path in enumerate(files):
        found = oracle.grey_image(path).astype(np.float64)
        if index not in used:
            assert (found == 0).all()
            continue
        expected = np.zeros_like(found)
        for matrix, estimate in zip(used[index], occlusion[index], strict=True):
            u = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]
            v = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
            expected = np.maximum(expected, _bilinear(estimate[0].astype(np.float64), u, v))
        assert found.max() > 0.01
        assert np.abs(found - expected).max() < 2e-3, f"frame {index}"  # EXR half


def test_exr_headers_hold_timecode_and_rate(streamed: dict[str, object]) -> None:
    turnover = streamed["turnover"]
    assert isinstance(turnover, Path)
    for number, expected in ((0, (0x01001000, 0)), (7, (0x01001007, 0))):
        for path in (turnover / "layer" / f"face.{number:04d}.exr", turnover / "matte" / f"matte.{number:04d}.exr"):
            header = oracle.exr_header(path)
            assert header["timeCode"][0] == "timecode"
            assert struct.unpack("<II", header["timeCode"][1]) == expected  # 01:00:10:0N, BCD
            assert header["framesPerSecond"] == ("rational", struct.pack("<iI", 25, 1))
            assert header["pixelAspectRatio"][0] == "float"
            assert header["comments"][0] == "string" and b"synthetic (AI-generated) faces" in header["comments"][1]


def _nodes(script: str) -> list[tuple[str, dict[str, str]]]:
    """A Nuke script's nodes in order, ``(class, knobs)``; ``push``/``set`` lines as ``("push", {"name": ...})``."""
    nodes: list[tuple[str, dict[str, str]]] = []
    current: tuple[str, dict[str, str]] | None = None
    for line in script.splitlines():
        if current is None:
            opened = re.fullmatch(r"(\w+) \{", line)
            if opened:
                current = (opened.group(1), {})
            elif line.startswith("push "):
                nodes.append(("push", {"name": line.split()[1]}))
            continue
        if line == "}":
            nodes.append(current)
            current = None
        else:
            key, _, value = line.strip().partition(" ")
            current[1][key] = value
    return nodes


def _graph(nodes: list[tuple[str, dict[str, str]]]) -> dict[str, list[str]]:
    """Each named node's inputs (input 0 first), by Nuke's stack rules: a node takes ``inputs`` nodes from
    the stack, the last pushed being input 0; ``set`` names the top, ``push $N`` pushes it again."""
    stack: list[str] = []
    inputs: dict[str, list[str]] = {}
    for kind, knobs in nodes:
        if kind == "push":
            stack.append(knobs["name"].lstrip("$").removeprefix("N"))
            continue
        count = sum(int(part) for part in knobs.get("inputs", "1").split("+"))  # "1+1": an input and a mask
        taken = [stack.pop() for _ in range(count)]
        inputs[knobs["name"]] = taken
        stack.append(knobs["name"])
    return inputs


def test_nuke_script_reads_plate_and_layer_and_merges_over(assets: dict[str, Path],
                                                           streamed: dict[str, object]) -> None:
    turnover = streamed["turnover"]
    assert isinstance(turnover, Path)
    nodes = _nodes((turnover / "comp.nk").read_text())
    by_name = {knobs.get("name", kind): (kind, knobs) for kind, knobs in nodes if kind != "push"}
    root = by_name['"comp.nk"'][1]
    assert (root["first_frame"], root["last_frame"], float(root["fps"])) == ("0", "9", 25.0)
    for name, file in (("Plate", str(assets["clip"])), ("Layer", str(turnover / "layer" / "face.%04d.exr")),
                       ("Matte", str(turnover / "matte" / "matte.%04d.exr")),
                       ("Occlusion", str(turnover / "occlusion" / "occlusion.%04d.exr"))):
        kind, knobs = by_name[name]
        assert kind == "Read" and knobs["file"] == f'"{file}"' and knobs["raw"] == "true"
        if name != "Plate":
            assert (knobs["first"], knobs["last"]) == ("0", "9")
    plate = by_name["Plate"][1]  # the movie's frames 1..10 in Nuke, starting at frame 0
    assert (plate["first"], plate["last"], plate["frame_mode"], plate["frame"]) == ("1", "10", '"start at"', "0")
    assert by_name["Layer"][1]["premultiplied"] == "true"
    graph = _graph(nodes)
    assert by_name["Over"][0] == "Merge2" and by_name["Over"][1]["operation"] == "over"
    assert graph["Over"] == ["Plate", "Layer"]  # B (input 0) the plate, A the layer
    grade = by_name["FaceGrade"]
    assert grade[0] == "Grade" and graph["FaceGrade"] == ["Over", "Matte"]  # the mask input
    assert grade[1]["maskChannelInput"] == "rgba.red"


def test_tracking_recreates_the_crop_transform(streamed: dict[str, object]) -> None:
    turnover, used = streamed["turnover"], streamed["used"]
    assert isinstance(turnover, Path) and isinstance(used, dict)
    tracking = json.loads((turnover / "tracking.json").read_text())
    rows = {row["index"]: row for row in tracking["frames"]}
    assert set(rows) == set(used) and used
    for index, matrices in used.items():
        recorded = np.array([face["crop_from_frame"] for face in rows[index]["faces"]])
        np.testing.assert_allclose(recorded, matrices, atol=1e-4)
    nodes = _nodes((turnover / "tracking.nk").read_text())
    pins = [knobs for kind, knobs in nodes if kind == "CornerPin2D"]
    assert pins and all(re.match(r"\{\{curve x\d+ ", pin["to1"]) for pin in pins)
    # Each pin's corners, back in vidswap's pixels (y down, centres at integers), are the crop's corners
    # mapped by the inverse of its crop_from_frame: bottom left, bottom right, top right, top left of the crop.
    side, height = tracking["crop_size"], tracking["height"]
    crop_corners = np.array([[-0.5, side - 0.5], [side - 0.5, side - 0.5], [side - 0.5, -0.5], [-0.5, -0.5]])
    by_track = {int(knobs["name"].removeprefix("Track")): knobs for knobs in pins}
    for row in tracking["frames"]:
        for face in row["faces"]:
            matrix = np.linalg.inv(np.vstack([face["crop_from_frame"], [0, 0, 1]]))[:2]
            expected = crop_corners @ matrix[:, :2].T + matrix[:, 2]
            for corner in range(4):
                xs, ys = re.findall(r"\{curve ([^}]*)\}", by_track[face["track"]][f"to{corner + 1}"])
                keys = [dict(zip(c.split()[::2], map(float, c.split()[1::2]), strict=True)) for c in (xs, ys)]
                x, y = keys[0][f"x{row['frame']}"], keys[1][f"x{row['frame']}"]
                np.testing.assert_allclose([x - 0.5, height - y - 0.5], expected[corner], atol=1e-4)
    manifest = json.loads((turnover / "manifest.json").read_text())
    assert manifest["frames"] == {"first": 0, "last": 9, "count": 10}
    assert [w["licence"] for w in manifest["weights"]] and all("name" in w for w in manifest["weights"])
    assert all((turnover / name).is_file() for name in manifest["files"])


@pytest.mark.parametrize(("pix_fmt", "bits", "layer_format"), [("gbrp10le", 10, "exr"), ("gbrp16le", 16, "exr-float")])
def test_deep_plates_within_one_code_value(assets: dict[str, Path], pix_fmt: str, bits: int,
                                           layer_format: str) -> None:
    folder = assets["folder"] / pix_fmt
    folder.mkdir()
    clip = folder / "plate.mkv"
    oracle.ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=96x64:rate=25:duration={SECONDS}", "-c:v", "ffv1",
                  "-pix_fmt", pix_fmt, str(clip))
    out = folder / "out.mkv"
    run_pipeline(_spec({**assets, "clip": clip}, out, **{"turnover.dir": str(folder / "t"),
                                                          "turnover.format": layer_format}),
                 RunOptions(progress=False, detector=StubDetector()))
    plate, output, peak = oracle.planes(clip, pix_fmt), oracle.planes(out, pix_fmt), 2**bits - 1
    for index in range(10):
        layer = oracle.rgba_image(folder / "t" / "layer" / f"face.{index:04d}.exr").astype(np.float64)
        g, b, r = (p.astype(np.float64) / peak for p in plate.frames[index])
        comp = np.rint((np.stack([r, g, b], axis=-1) * (1 - layer[..., 3:]) + layer[..., :3]) * peak)
        og, ob, orr = output.frames[index]
        assert np.abs(comp - np.stack([orr, og, ob], axis=-1)).max() <= 1, f"frame {index}"


def test_a_plate_sequence_keeps_its_frame_numbers(assets: dict[str, Path]) -> None:
    """Also without the refinement: then there is no occlusion estimate to hand over."""
    folder = assets["folder"] / "sequence"
    folder.mkdir()
    pattern = oracle.image_sequence(folder / "plate.%04d.png", "png", "rgb48be", first=1001, frames=6)
    spec = pipeline_from_options({"input.path": str(pattern), "input.fps": 24, "sources.me": [str(assets["photo"])],
                                  "output.sequence": str(folder / "out.%04d.png"), "model.path": str(assets["tiny"]),
                                  "turnover.dir": str(folder / "t"), "model.refine": False})
    run_pipeline(spec, RunOptions(progress=False, detector=StubDetector()))
    assert not (folder / "t" / "occlusion").exists()
    assert json.loads((folder / "t" / "manifest.json").read_text())["occlusion"] is None
    assert sorted(p.name for p in (folder / "t" / "layer").iterdir()) == [f"face.{n}.exr" for n in range(1001, 1007)]
    header = oracle.exr_header(folder / "t" / "layer" / "face.1001.exr")
    assert "timeCode" not in header and header["framesPerSecond"] == ("rational", struct.pack("<iI", 24, 1))
    nodes = {knobs.get("name"): (kind, knobs) for kind, knobs in _nodes((folder / "t" / "comp.nk").read_text())}
    plate = nodes["Plate"][1]
    assert (plate["file"], plate["first"], plate["last"]) == (f'"{pattern}"', "1001", "1006")
    assert "frame_mode" not in plate and "Occlusion" not in nodes
    rows = json.loads((folder / "t" / "tracking.json").read_text())["frames"]
    assert [row["frame"] for row in rows] == list(range(1001, 1007))


def test_a_yuv_plate_in_its_native_planes(assets: dict[str, Path]) -> None:
    """A BT.709 limited-range 4:4:4 plate: the layer over the plate (converted to RGB and back here, by
    the standard's equations) is the output's Y'CbCr samples within one code value."""
    folder = assets["folder"] / "yuv"
    folder.mkdir()
    clip = folder / "plate.mkv"
    oracle.ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=96x64:rate=25:duration={SECONDS}", "-c:v", "ffv1",
                  "-pix_fmt", "yuv444p", "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
                  "-color_range", "tv", str(clip))
    out = folder / "out.mkv"
    run_pipeline(_spec({**assets, "clip": clip}, out, **{"turnover.dir": str(folder / "t")}),
                 RunOptions(progress=False, detector=StubDetector()))
    kr, kb = 0.2126, 0.0722
    plate, output = oracle.planes(clip, "yuv444p"), oracle.planes(out, "yuv444p")
    for index in range(10):
        y, cb, cr = (p.astype(np.float64) for p in plate.frames[index])
        y, cb, cr = (y - 16) / 219, (cb - 128) / 224, (cr - 128) / 224
        r, b = y + 2 * (1 - kr) * cr, y + 2 * (1 - kb) * cb
        rgb = np.stack([r, (y - kr * r - kb * b) / (1 - kr - kb), b], axis=-1)
        layer = oracle.rgba_image(folder / "t" / "layer" / f"face.{index:04d}.exr").astype(np.float64)
        r, g, b = np.moveaxis(rgb * (1 - layer[..., 3:]) + layer[..., :3], -1, 0)
        luma = kr * r + (1 - kr - kb) * g + kb * b
        codes = np.stack([16 + 219 * luma, 128 + 224 * (b - luma) / (2 * (1 - kb)),
                          128 + 224 * (r - luma) / (2 * (1 - kr))])
        expected = np.stack([p.astype(np.float64) for p in output.frames[index]])
        assert np.abs(np.clip(np.rint(codes), 0, 255) - expected).max() <= 1, f"frame {index}"
