"""FaceShifter losses: known answers per term, and one AEI-Net training step that reaches every weight."""

from __future__ import annotations

import pytest
import torch

from vidswap.models import AEINet, FaceShifterConfig, HEARNet, MultiScaleDiscriminator, TorchIdentityEncoder
from vidswap.models.identity import build_identity_backbone, resize_for_identity
from vidswap.train.losses import (
    AEILossWeights,
    aei_generator_loss,
    attribute_loss,
    change_loss,
    hear_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    identity_loss,
    reconstruction_loss,
)


class TestHinge:
    def test_discriminator_known_answers(self) -> None:
        ones = [torch.ones(2, 1, 3, 3), torch.ones(2, 1, 2, 2)]
        assert hinge_discriminator_loss([2 * t for t in ones], [-2 * t for t in ones]).item() == 0
        zeros = [0 * t for t in ones]
        assert hinge_discriminator_loss(zeros, zeros).item() == pytest.approx(2.0)

    def test_generator_known_answers(self) -> None:
        fake = [torch.zeros(2, 1, 3, 3), torch.full((2, 1, 2, 2), 3.0)]
        assert hinge_generator_loss(fake).item() == pytest.approx(1.0)


class TestAttributeLoss:
    def test_half_sum_of_level_mse(self) -> None:
        a = [torch.randn(2, 4, s, s) for s in (2, 4, 8)]
        assert attribute_loss(a, a).item() == 0
        assert attribute_loss([t + 2 for t in a], a).item() == pytest.approx(0.5 * 3 * 4)


class TestIdentityLoss:
    def test_cosine(self) -> None:
        z = torch.randn(3, 512)
        assert identity_loss(5 * z, z).item() == pytest.approx(0, abs=1e-6)
        assert identity_loss(-z, z).item() == pytest.approx(2, abs=1e-6)


class TestReconstructionLoss:
    def test_only_same_pairs_count(self) -> None:
        x = torch.zeros(3, 3, 4, 4)
        y = torch.stack([torch.full((3, 4, 4), v) for v in (1.0, 2.0, 3.0)])
        same = torch.tensor([True, False, True])
        assert reconstruction_loss(y, x, same).item() == pytest.approx(0.5 * (1 + 9) / 2)
        assert reconstruction_loss(y, x, torch.zeros(3, dtype=torch.bool)).item() == 0


class TestHearLoss:
    def test_terms(self) -> None:
        y, y_star, x = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5), torch.ones(2, 3, 4, 4)
        z = torch.randn(2, 512)
        out = hear_loss(z_id_y=z, z_id_s=z, y=y, y_star=y_star, x_t=x, same=torch.tensor([True, False]))
        assert change_loss(y, y_star).item() == pytest.approx(0.5) == out.chg.item()
        assert out.rec.item() == pytest.approx(0.5)
        assert out.total.item() == pytest.approx(out.id.item() + 1.0, abs=1e-6)


class TestAEITrainingStep:
    def test_gradients_reach_every_trainable_parameter(self, device: torch.device) -> None:
        torch.manual_seed(0)
        cfg = FaceShifterConfig.preset("tiny")
        aei = AEINet(cfg).to(device).train()
        disc = MultiScaleDiscriminator(cfg).to(device).train()
        identity = TorchIdentityEncoder(build_identity_backbone(cfg.identity_backbone)).to(device)
        x_t = torch.rand(2, 3, 256, 256, device=device) * 2 - 1
        x_s = torch.stack([x_t[0], torch.rand(3, 256, 256, device=device) * 2 - 1])
        same = torch.tensor([True, False], device=device)

        with torch.no_grad():
            z_id_s = identity.embed(resize_for_identity(x_s))
        y, z_att_x = aei(x_t, z_id_s)
        losses = aei_generator_loss(
            fake_logits=disc(y), z_att_y=aei.attributes(y), z_att_x=z_att_x,
            z_id_y=identity.embed(resize_for_identity(y)), z_id_s=z_id_s, y=y, x_t=x_t, same=same)
        losses.total.backward()

        expected = losses.adv + 10 * losses.att + 5 * losses.id + 10 * losses.rec
        torch.testing.assert_close(losses.total, expected)
        assert all(t.item() > 0 for t in (losses.adv, losses.att, losses.id, losses.rec))
        trainable = [(n, p) for n, p in aei.named_parameters() if p.requires_grad]
        assert len(trainable) == len(list(aei.parameters()))
        dead = [n for n, p in trainable if p.grad is None or not bool(p.grad.abs().sum() > 0)]
        assert dead == []
        assert all(p.grad is None for p in identity.parameters())

        disc.zero_grad()
        loss_d = hinge_discriminator_loss(disc(x_s), disc(y.detach()))
        loss_d.backward()
        # Every weight learns. Biases may not: InstanceNorm cancels the conv bias before it, and
        # the hinge gradient of the last bias is exactly 0 while no logit is past the margin.
        assert all(p.grad is not None for p in disc.parameters())
        assert all(bool(p.grad.abs().sum() > 0) for n, p in disc.named_parameters() if n.endswith("weight"))

    def test_weights_are_configurable(self) -> None:
        t = torch.zeros(1, 3, 4, 4)
        z = torch.randn(1, 512)
        out = aei_generator_loss(fake_logits=[torch.zeros(1, 1, 2, 2)], z_att_y=[t], z_att_x=[t], z_id_y=z,
                                 z_id_s=-z, y=t, x_t=t, same=torch.tensor([True]),
                                 weights=AEILossWeights(adv=0.0, id=20.0))
        assert out.total.item() == pytest.approx(20 * 2, abs=1e-4)


class TestHEARTrainingStep:
    def test_gradients_reach_hear_net(self) -> None:
        cfg = FaceShifterConfig.preset("tiny")
        hear = HEARNet(cfg).train()
        y_star, x_t = torch.rand(2, 3, 256, 256) * 2 - 1, torch.rand(2, 3, 256, 256) * 2 - 1
        y = hear(y_star, x_t - y_star)
        z = torch.randn(2, 512)
        hear_loss(z_id_y=z + y.mean(), z_id_s=z, y=y, y_star=y_star, x_t=x_t, same=torch.tensor([True, False])
                  ).total.backward()
        assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in hear.parameters())
