"""The parts of a run: picking a photo's face, the source identity, the swap, devices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.pipeline.run_helpers import StubDetector, write_photo
from vidswap.errors import ConfigError, NoFaceError
from vidswap.faces.detect import Face
from vidswap.models.checkpoint import build_bundle
from vidswap.models.config import FaceShifterConfig
from vidswap.pipeline.identity import mean_identity, pick_face, source_identity
from vidswap.pipeline.spec import PhotoRef
from vidswap.pipeline.swap import Swapper, autocast_dtype, resolve_device


def _face(x: float) -> Face:
    return Face(box=(x, 0.0, x + 10, 10.0), score=0.9, landmarks=np.zeros((5, 2), np.float32))


class TestPickFace:
    def test_one_face(self, tmp_path: Path) -> None:
        face = _face(3)
        assert pick_face([face], PhotoRef.model_construct(path=tmp_path / "a.jpg", face=None)) is face

    def test_index_counts_left_to_right(self, tmp_path: Path) -> None:
        faces = [_face(50), _face(5), _face(20)]
        assert pick_face(faces, PhotoRef.model_construct(path=tmp_path / "a.jpg", face=1)).box[0] == 20

    @pytest.mark.parametrize(("count", "index", "words"), [(0, None, "no face"), (2, None, "2 faces"),
                                                           (2, 2, "only 2")])
    def test_exceptions_name_the_photo(self, tmp_path: Path, count: int, index: int | None,
                                       words: str) -> None:
        photo = PhotoRef.model_construct(path=tmp_path / "me.jpg", face=index)
        with pytest.raises(NoFaceError, match=words) as err:
            pick_face([_face(i * 20) for i in range(count)], photo)
        assert "me.jpg" in str(err.value)


class TestSourceIdentity:
    @pytest.mark.parametrize("normalized", [True, False])
    def test_mean_of_the_photos_in_the_model_form(self, tmp_path: Path, normalized: bool) -> None:
        torch.manual_seed(0)
        cfg = FaceShifterConfig.preset("tiny", id_normalized=normalized)
        encoder = build_bundle(cfg, hear=False)
        rng = np.random.default_rng
        photos = [PhotoRef.model_construct(path=write_photo(tmp_path / f"{i}.png",
                                                            rng(i).integers(0, 255, (80, 80, 3), np.uint8)),
                                           face=None)
                  for i in range(2)]
        both = source_identity(photos, detector=StubDetector(), encoder=encoder, config=cfg)
        each = [source_identity([p], detector=StubDetector(), encoder=encoder, config=cfg) for p in photos]
        assert both.shape == (cfg.c_id,)
        if normalized:
            assert torch.allclose(both.norm(), torch.tensor(1.0), atol=1e-5)
            assert torch.allclose(both, torch.nn.functional.normalize(each[0] + each[1], dim=0), atol=1e-5)
        else:
            directions = torch.nn.functional.normalize(torch.stack(each), dim=-1).sum(dim=0)
            mean_norm = (each[0].norm() + each[1].norm()) / 2
            assert torch.allclose(both, torch.nn.functional.normalize(directions, dim=0) * mean_norm, atol=1e-5)
            assert not torch.allclose(both.norm(), torch.tensor(1.0), atol=1e-3)


class TestMeanIdentity:
    @staticmethod
    def _embeddings(count: int = 5, cos: float = 0.7, norm: float = 23.0) -> torch.Tensor:
        """``count`` raw embeddings with pairwise cosine ``cos`` and norms around ``norm``."""
        generator = torch.Generator().manual_seed(0)
        basis = torch.linalg.qr(torch.randn(512, count + 1, generator=generator, dtype=torch.float64))[0].T
        shared, own = basis[0], basis[1:]
        directions = cos ** 0.5 * shared + (1 - cos) ** 0.5 * own
        norms = norm * (1 + 0.1 * torch.linspace(-1, 1, count, dtype=torch.float64))
        return (directions * norms[:, None]).float()

    def test_disagreeing_photos_keep_the_mean_norm(self) -> None:
        embeddings = self._embeddings()
        unit = torch.nn.functional.normalize(embeddings, dim=-1)
        cosines = (unit @ unit.T)[~torch.eye(5, dtype=torch.bool)]
        assert torch.allclose(cosines, torch.tensor(0.7), atol=1e-5)
        assert embeddings.mean(dim=0).norm() < 0.9 * embeddings.norm(dim=-1).mean()  # the raw mean shrinks
        raw = mean_identity(embeddings, normalized=False)
        assert torch.allclose(raw.norm(), embeddings.norm(dim=-1).mean(), rtol=1e-5)
        expected = torch.nn.functional.normalize(unit.mean(dim=0), dim=0)
        assert torch.allclose(torch.nn.functional.normalize(raw, dim=0), expected, atol=1e-6)
        assert torch.allclose(mean_identity(embeddings, normalized=True), expected, atol=1e-6)

    def test_one_photo_is_unchanged(self) -> None:
        one = self._embeddings()[:1]
        assert torch.allclose(mean_identity(one, normalized=False), one[0], rtol=1e-6, atol=1e-6)
        assert torch.allclose(mean_identity(one, normalized=True), torch.nn.functional.normalize(one[0], dim=0))


@pytest.fixture(scope="module")
def bundle():
    torch.manual_seed(0)
    return build_bundle(FaceShifterConfig.preset("tiny"))


class TestSwap:
    def test_refine_runs_the_self_reconstruction(self, bundle) -> None:
        x, z = torch.rand(2, 3, 256, 256) * 2 - 1, torch.nn.functional.normalize(torch.randn(2, 512), dim=-1)
        calls = []
        hook = bundle.aei.register_forward_hook(lambda module, args, out: calls.append(args[1].clone()))
        with torch.no_grad():
            bundle.to(torch.device("cpu"))
            refined = bundle.swap(x, z, refine=True)
            plain = bundle.swap(x, z, refine=False)
        hook.remove()
        assert len(calls) == 3 and torch.equal(calls[0], z)  # AEI(X_t, z_s), AEI(X_t, z_t), AEI only
        crops = torch.nn.functional.interpolate(x, size=(112, 112), mode="bilinear", align_corners=False)
        z_t = torch.nn.functional.normalize(bundle.identity_encoder().embed(crops), dim=-1)
        assert torch.allclose(calls[1], z_t, atol=1e-5)
        assert refined.images.shape == plain.images.shape == x.shape
        assert not torch.allclose(refined.images, plain.images)
        # The occlusion estimate is HEAR-Net's input: the target's self-reconstruction error.
        with torch.no_grad():
            y_tt, _ = bundle.aei(x, z_t)
        assert plain.occlusion is None and refined.occlusion is not None
        assert torch.allclose(refined.occlusion, ((x - y_tt).abs().amax(1, keepdim=True) / 2).clamp(0, 1), atol=1e-5)

    def test_swapper_refine_flag(self, bundle) -> None:
        swapper = Swapper(bundle, device="cpu")
        x, z = torch.rand(1, 3, 256, 256) * 2 - 1, torch.randn(1, 512)
        assert swapper.refines and not Swapper(bundle, refine=False).refines
        assert not torch.allclose(swapper(x, z).images, swapper(x, z, refine=False).images)
        assert torch.equal(swapper(x, z, refine=False).images, Swapper(bundle, refine=False)(x, z).images)
        assert Swapper(bundle, refine=False)(x, z).occlusion is None

    def test_devices(self) -> None:
        assert resolve_device("cpu").type == "cpu"
        assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
        with pytest.raises(ConfigError, match="model.device"):
            resolve_device("gpu")
        if not torch.cuda.is_available():
            with pytest.raises(ConfigError, match="CUDA"):
                resolve_device("cuda:0")
        assert autocast_dtype(torch.device("cpu"), "auto") is None
        assert autocast_dtype(torch.device("cuda"), "fp16") is torch.float16

    def test_auto_is_fp16_on_cuda_and_bf16_is_opt_in(self) -> None:
        assert autocast_dtype(torch.device("cuda"), "auto") is torch.float16
        assert autocast_dtype(torch.device("cuda"), "bf16") is torch.bfloat16
        assert autocast_dtype(torch.device("cpu"), "bf16") is torch.bfloat16
        assert autocast_dtype(torch.device("cuda"), "fp32") is None

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_the_identity_encoder_stays_fp32_under_autocast(self, bundle, dtype: torch.dtype) -> None:
        """AEI-Net and HEAR-Net take the run's precision; ArcFace (z_id, and z_t of the refinement) fp32."""
        x, z = torch.rand(1, 3, 256, 256) * 2 - 1, torch.nn.functional.normalize(torch.randn(1, 512), dim=-1)
        seen: dict[str, torch.dtype] = {}

        def record(name: str):
            def hook(module, args, out) -> None:
                seen.setdefault(name, (out if torch.is_tensor(out) else out[0]).dtype)
            return hook

        hooks = [getattr(bundle, name).register_forward_hook(record(name)) for name in ("aei", "identity", "hear")]
        with torch.no_grad():
            bundle.to(torch.device("cpu"))
            reference = bundle.embed(x)
            with torch.autocast("cpu", dtype=dtype):
                embedded = bundle.embed(x)
                bundle.swap(x, z, refine=True)
        for hook in hooks:
            hook.remove()
        assert seen == {"identity": torch.float32, "aei": dtype, "hear": dtype}
        assert torch.equal(embedded, reference)
