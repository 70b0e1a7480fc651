"""The FaceShifter losses as plain functions of tensors (paper §3, as the re-implementations).

AEI-Net: L_AEI = L_adv + λ_att·L_att + λ_id·L_id + λ_rec·L_rec (λ = 10, 5, 10).
HEAR-Net: L_HEAR = L'_id + L_chg + L'_rec.
Images are Bx3xHxW in [-1, 1]; embeddings Bx512; discriminator outputs one logit map per scale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

__all__ = ["hinge_discriminator_loss", "hinge_generator_loss", "attribute_loss", "identity_loss",
           "reconstruction_loss", "change_loss", "AEILossWeights", "AEILosses", "aei_generator_loss",
           "HEARLosses", "hear_loss"]


def _total(terms: Iterable[Tensor]) -> Tensor:
    """Sum of per-scale (or per-layer) loss terms; there must be at least one, so the sum is a tensor."""
    listed = list(terms)
    if not listed:
        raise ValueError("a multi-scale loss needs at least one scale")
    return sum(listed[1:], listed[0])


def hinge_discriminator_loss(real: Sequence[Tensor], fake: Sequence[Tensor]) -> Tensor:
    """Multi-scale hinge loss of the discriminator.

    ½ Σ_scales [mean relu(1 − D(X)) + mean relu(1 + D(Y))], real logits pushed above 1 and
    fake ones below −1.
    """
    return 0.5 * _total(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake, strict=True))


def hinge_generator_loss(fake: Sequence[Tensor]) -> Tensor:
    """Adversarial loss of AEI-Net: Σ_scales mean relu(1 − D(Y)).

    The hinge form of the public re-implementations (taotaonice, ghost), which stops pushing a
    patch once the discriminator scores it above 1.
    """
    return _total(F.relu(1 - f).mean() for f in fake)


def attribute_loss(z_att_y: Sequence[Tensor], z_att_x: Sequence[Tensor]) -> Tensor:
    """L_att = ½ Σ_k mean((z_att^k(Y) − z_att^k(X_t))²), the attribute maps of swap and target."""
    return 0.5 * _total(F.mse_loss(a, b) for a, b in zip(z_att_y, z_att_x, strict=True))


def identity_loss(z_y: Tensor, z_s: Tensor) -> Tensor:
    """L_id = mean over the batch of 1 − cos(z_id(Y), z_id(X_s)); z are Bx512, raw or normalised."""
    return (1 - F.cosine_similarity(z_y, z_s, dim=1)).mean()


def reconstruction_loss(y: Tensor, x_t: Tensor, same: Tensor) -> Tensor:
    """L_rec = ½ mean((Y − X_t)²) averaged over the samples whose source is the target.

    Args:
        y: swaps, BxCxHxW.
        x_t: targets, BxCxHxW.
        same: B booleans, true where X_s = X_t; the loss is 0 when none is.
    """
    per_sample = 0.5 * (y - x_t).pow(2).flatten(1).mean(dim=1)
    weight = same.to(per_sample.dtype)
    return (per_sample * weight).sum() / weight.sum().clamp_min(1)


def change_loss(y: Tensor, y_star: Tensor) -> Tensor:
    """L_chg = mean |Y_st − Y*_st|: HEAR-Net should change AEI-Net's swap only where needed."""
    return (y - y_star).abs().mean()


@dataclass(frozen=True, kw_only=True)
class AEILossWeights:
    """λ of the AEI-Net loss (the paper's: att 10, id 5, rec 10; ghost trains with id 20)."""

    adv: float = 1.0
    att: float = 10.0
    id: float = 5.0
    rec: float = 10.0


@dataclass(frozen=True)
class AEILosses:
    """The AEI-Net loss and its unweighted terms (scalars, for logging)."""

    total: Tensor
    adv: Tensor
    att: Tensor
    id: Tensor
    rec: Tensor


def aei_generator_loss(*, fake_logits: Sequence[Tensor], z_att_y: Sequence[Tensor], z_att_x: Sequence[Tensor],
                       z_id_y: Tensor, z_id_s: Tensor, y: Tensor, x_t: Tensor, same: Tensor,
                       weights: AEILossWeights = AEILossWeights()) -> AEILosses:
    """L_AEI of one batch; see the module docstring for the terms and their arguments."""
    adv = hinge_generator_loss(fake_logits)
    att = attribute_loss(z_att_y, z_att_x)
    ident = identity_loss(z_id_y, z_id_s)
    rec = reconstruction_loss(y, x_t, same)
    total = weights.adv * adv + weights.att * att + weights.id * ident + weights.rec * rec
    return AEILosses(total=total, adv=adv, att=att, id=ident, rec=rec)


@dataclass(frozen=True)
class HEARLosses:
    """The HEAR-Net loss and its terms."""

    total: Tensor
    id: Tensor
    chg: Tensor
    rec: Tensor


def hear_loss(*, z_id_y: Tensor, z_id_s: Tensor, y: Tensor, y_star: Tensor, x_t: Tensor,
              same: Tensor) -> HEARLosses:
    """L_HEAR = L'_id + L_chg + L'_rec for refined swaps ``y`` of AEI-Net swaps ``y_star``."""
    ident = identity_loss(z_id_y, z_id_s)
    chg = change_loss(y, y_star)
    rec = reconstruction_loss(y, x_t, same)
    return HEARLosses(total=ident + chg + rec, id=ident, chg=chg, rec=rec)
