"""AEI-Net: attribute levels, AAD layer, AAD ResBlk, generator, parameter count."""

from __future__ import annotations

import pytest
import torch

from vidswap.errors import ShapeError
from vidswap.models import AEINet, FaceShifterConfig
from vidswap.models.aei import AADLayer, AADResBlk, aad_mix

TINY = FaceShifterConfig.preset("tiny")


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class TestAadMix:
    def test_mask_selects_attributes_or_identity(self) -> None:
        h = torch.randn(2, 3, 4, 4)
        att = (torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4))
        ident = (torch.randn(2, 3), torch.randn(2, 3))
        a = att[0] * h + att[1]
        i = ident[0][:, :, None, None] * h + ident[1][:, :, None, None]
        torch.testing.assert_close(aad_mix(h, att, ident, torch.zeros(2, 1, 4, 4)), a)
        torch.testing.assert_close(aad_mix(h, att, ident, torch.ones(2, 1, 4, 4)), i)
        quarter = torch.full((2, 1, 4, 4), 0.25)
        torch.testing.assert_close(aad_mix(h, att, ident, quarter), 0.75 * a + 0.25 * i)


class TestAADLayer:
    def test_mask_in_open_unit_interval(self) -> None:
        torch.manual_seed(0)
        layer = AADLayer(channels=8, att_channels=5, c_id=16)
        m = layer.attention(5 * torch.randn(3, 8, 16, 16) + 2)
        assert m.shape == (3, 1, 16, 16)
        assert bool((m > 0).all() and (m < 1).all()) and m.std() > 0

    def test_masks_of_every_tiny_layer_in_open_unit_interval(self) -> None:
        torch.manual_seed(0)
        net = AEINet(TINY).eval()
        masks = []
        hooks = [layer.mask.register_forward_hook(lambda _m, _i, out: masks.append(torch.sigmoid(out)))
                 for layer in net.modules() if isinstance(layer, AADLayer)]
        with torch.no_grad():
            net(torch.rand(2, 3, 256, 256) * 2 - 1, torch.randn(2, 512))
        for hook in hooks:
            hook.remove()
        assert len(masks) == 8 * TINY.aad_units + 5  # blocks 4..8 change channels: an AAD shortcut each
        assert all(bool((m > 0).all() and (m < 1).all()) for m in masks)

    def test_instance_norm_makes_it_scale_invariant_in_h(self) -> None:
        layer = AADLayer(channels=4, att_channels=2, c_id=8)
        h, z_att, z_id = torch.randn(1, 4, 8, 8), torch.randn(1, 2, 8, 8), torch.randn(1, 8)
        torch.testing.assert_close(layer(h, z_att, z_id), layer(3 * h + 1, z_att, z_id), rtol=1e-4, atol=1e-4)


class TestAADResBlk:
    @pytest.mark.parametrize(("units", "c_in", "c_out", "shortcut"),
                             [(1, 4, 4, False), (2, 8, 4, True), (3, 4, 3, True)])
    def test_structure_and_shape(self, units: int, c_in: int, c_out: int, shortcut: bool) -> None:
        blk = AADResBlk(channels=c_in, out_channels=c_out, att_channels=6, c_id=8, units=units)
        assert len(blk.units) == units and (blk.shortcut is not None) is shortcut
        out = blk(torch.randn(2, c_in, 8, 8), torch.randn(2, 6, 8, 8), torch.randn(2, 8))
        assert out.shape == (2, c_out, 8, 8)


class TestAEINet:
    def test_tiny_shapes(self) -> None:
        net = AEINet(TINY).eval()
        with torch.no_grad():
            y, z_att = net(torch.rand(2, 3, 256, 256) * 2 - 1, torch.randn(2, 512))
        assert y.shape == (2, 3, 256, 256) and bool((y.abs() < 1).all())
        assert [tuple(a.shape[1:]) for a in z_att] == list(TINY.attribute_shapes)
        assert all(a.shape[0] == 2 for a in z_att)

    @pytest.mark.parametrize("units", [1, 2, 3])
    def test_paper_shapes_on_meta_device(self, units: int) -> None:
        cfg = FaceShifterConfig.preset("paper", aad_units=units)
        with torch.device("meta"):
            net = AEINet(cfg)
            y, z_att = net(torch.empty(1, 3, 256, 256), torch.empty(1, 512))
        assert tuple(y.shape) == (1, 3, 256, 256)
        assert [tuple(a.shape[1:]) for a in z_att] == [
            (1024, 2, 2), (2048, 4, 4), (1024, 8, 8), (512, 16, 16), (256, 32, 32), (128, 64, 64),
            (64, 128, 128), (64, 256, 256)]
        assert all(len(b.units) == units for b in net.generator.blocks)

    def test_paper_parameter_count_equals_ghost(self) -> None:
        with torch.device("meta"):
            net = AEINet(FaceShifterConfig.preset("paper"))
        assert count(net) == 184_343_381
        assert round(count(net.encoder) / 1e6, 1) == 67.1 and round(count(net.generator) / 1e6, 1) == 117.3

    def test_attributes_match_forward(self) -> None:
        net = AEINet(TINY).eval()
        x = torch.rand(1, 3, 256, 256) * 2 - 1
        with torch.no_grad():
            _, z_att = net(x, torch.randn(1, 512))
            again = net.attributes(x)
        assert all(torch.equal(a, b) for a, b in zip(z_att, again, strict=True))

    def test_identity_changes_output(self) -> None:
        torch.manual_seed(0)
        net = AEINet(TINY).eval()
        x = torch.rand(1, 3, 256, 256) * 2 - 1
        with torch.no_grad():
            y1, _ = net(x, torch.randn(1, 512))
            y2, _ = net(x, torch.randn(1, 512))
        assert (y1 - y2).abs().max() > 1e-4

    @pytest.mark.parametrize(("x_shape", "z_shape", "message"), [
        ((1, 3, 128, 128), (1, 512), "3x256x256"), ((1, 3, 256, 256), (1, 256), "z_id"),
        ((2, 3, 256, 256), (1, 512), "z_id")])
    def test_shape_errors(self, x_shape: tuple, z_shape: tuple, message: str) -> None:
        with pytest.raises(ShapeError, match=message):
            AEINet(TINY)(torch.zeros(x_shape), torch.zeros(z_shape))
