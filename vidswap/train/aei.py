"""AEI-Net training: the generator against a multi-scale discriminator, with the paper's losses.

One step (FaceShifter §3.1): z_id(X_s) from the frozen identity encoder; Y = AEI-Net(X_t, z_id);
the generator minimises L_adv + λ_att·L_att + λ_id·L_id + λ_rec·L_rec
(:func:`vidswap.train.losses.aei_generator_loss`), then the discriminator the multi-scale hinge
loss on real X_s against the detached Y. Adam (betas (0, 0.999), lr 4e-4) for both; autocast
and a grad scaler on CUDA (:mod:`vidswap.train.runtime`); DDP under torchrun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from vidswap import __version__
from vidswap.errors import InputError
from vidswap.models.aei import AEINet
from vidswap.models.config import FaceShifterConfig
from vidswap.models.discriminator import MultiScaleDiscriminator
from vidswap.models.identity import IResNet, TorchIdentityEncoder
from vidswap.train.config import TrainConfig
from vidswap.train.identity import identity_embedding, load_identity_backbone
from vidswap.train.loop import LoopResult, StepResult, check_run_folder, pair_batches, run_loop
from vidswap.train.losses import AEILossWeights, aei_generator_loss, hinge_discriminator_loss
from vidswap.train.runtime import Runtime, distribute, setup_runtime, teardown_runtime
from vidswap.train.state import TrainingState, load_resume_point, save_training_checkpoint

__all__ = ["SwapWithAttributes", "AEITrainer", "train_aei"]


class SwapWithAttributes(nn.Module):
    """AEI-Net's swap and the attribute maps L_att compares, in one forward (one DDP call).

    Returns ``(y, z_att(x_t), z_att(y))`` for targets ``x_t`` (Bx3x256x256) and z_id (Bxc_id).
    """

    def __init__(self, aei: AEINet) -> None:
        super().__init__()
        self.aei = aei

    def forward(self, x_t: Tensor, z_id: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        y, z_att_x = self.aei(x_t, z_id)
        return y, z_att_x, self.aei.attributes(y)


@dataclass(eq=False)
class AEITrainer:
    """AEI-Net, its discriminator, the frozen identity encoder, their optimisers and the step count.

    Build with :meth:`create` (fresh) or :meth:`resume` (from a checkpoint).
    """

    model_config: FaceShifterConfig
    train_config: TrainConfig
    runtime: Runtime
    aei: AEINet
    discriminator: MultiScaleDiscriminator
    identity: TorchIdentityEncoder
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam
    scaler: torch.amp.GradScaler
    step: int = 0
    weights: AEILossWeights = AEILossWeights()
    kind: str = "aei"
    loss_names: tuple[str, ...] = ("total", "adv", "att", "id", "rec", "d")
    _swap: nn.Module = field(init=False, repr=False)
    _disc: nn.Module = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._swap = distribute(SwapWithAttributes(self.aei), self.runtime)
        self._disc = distribute(self.discriminator, self.runtime)

    @classmethod
    def create(cls, model_config: FaceShifterConfig, identity: IResNet, train_config: TrainConfig,
               runtime: Runtime) -> AEITrainer:
        """Fresh AEI-Net and discriminator (seeded by ``train_config.seed``) around ``identity``."""
        torch.manual_seed(train_config.seed)
        aei = AEINet(model_config).to(runtime.device).train()
        disc = MultiScaleDiscriminator(model_config).to(runtime.device).train()
        return cls._assemble(model_config, train_config, runtime, aei, disc, identity, step=0)

    @classmethod
    def resume(cls, run: Path, train_config: TrainConfig, runtime: Runtime) -> AEITrainer:
        """Networks, optimisers, scaler and step of the run's latest checkpoint."""
        bundle, disc, state = load_resume_point(run, runtime.device, kind="aei", part="discriminator",
                                                network=MultiScaleDiscriminator)
        trainer = cls._assemble(bundle.config, train_config, runtime, bundle.aei.train(), disc.train(),
                                bundle.identity, step=state.step)
        trainer.opt_g.load_state_dict(state.optimizers["g"])
        trainer.opt_d.load_state_dict(state.optimizers["d"])
        trainer.scaler.load_state_dict(state.scaler)
        return trainer

    @classmethod
    def _assemble(cls, model_config: FaceShifterConfig, train_config: TrainConfig, runtime: Runtime,
                  aei: AEINet, disc: MultiScaleDiscriminator, identity: IResNet, *, step: int) -> AEITrainer:
        return cls(model_config=model_config, train_config=train_config, runtime=runtime, aei=aei,
                   discriminator=disc, identity=TorchIdentityEncoder(identity.to(runtime.device)),
                   opt_g=torch.optim.Adam(aei.parameters(), lr=train_config.lr, betas=train_config.betas),
                   opt_d=torch.optim.Adam(disc.parameters(), lr=train_config.lr, betas=train_config.betas),
                   scaler=runtime.grad_scaler(), step=step)

    def train_step(self, x_s: Tensor, x_t: Tensor, same: Tensor) -> StepResult:
        """One generator step then one discriminator step on a batch.

        Args:
            x_s: sources, Bx3x256x256 in [-1, 1].
            x_t: targets, same shape.
            same: B booleans, true where X_s = X_t.
        """
        cfg = self.model_config
        with torch.no_grad(), self.runtime.autocast():
            z_s = identity_embedding(self.identity, x_s, cfg)
        with self.runtime.autocast():
            y, z_att_x, z_att_y = self._swap(x_t, z_s)
            z_y = identity_embedding(self.identity, y, cfg)
            fake_logits = self._disc(y)
            g = aei_generator_loss(fake_logits=fake_logits, z_att_y=z_att_y, z_att_x=z_att_x, z_id_y=z_y,
                                   z_id_s=z_s, y=y, x_t=x_t, same=same, weights=self.weights)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(g.total).backward()
        self.scaler.step(self.opt_g)
        # Real and fake go through the discriminator as one batch: one DDP forward per backward.
        with self.runtime.autocast():
            logits = self._disc(torch.cat([x_s, y.detach()]))
            batch = x_s.shape[0]
            d_loss = hinge_discriminator_loss([scale[:batch] for scale in logits],
                                              [scale[batch:] for scale in logits])
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(d_loss).backward()
        self.scaler.step(self.opt_d)
        self.scaler.update()
        self.step += 1
        values = torch.stack([g.total, g.adv, g.att, g.id, g.rec, d_loss]).float().tolist()
        return StepResult(losses=dict(zip(self.loss_names, values, strict=True)), samples=(x_s, x_t, y))

    def save(self, run: Path) -> Path:
        """Checkpoint: model file (aei, identity, discriminator) and training state."""
        state = TrainingState(kind="aei", step=self.step,
                              optimizers={"g": self.opt_g.state_dict(), "d": self.opt_d.state_dict()},
                              scaler=self.scaler.state_dict(), train_config=self.train_config.to_json(),
                              version=__version__)
        networks = {"aei": self.aei, "identity": self.identity.backbone, "discriminator": self.discriminator}
        return save_training_checkpoint(run, config=self.model_config, networks=networks, state=state)


def train_aei(*, data: str | Path, run: str | Path, train_config: TrainConfig,
              model_config: FaceShifterConfig | None = None, identity: str | Path | IResNet | None = None,
              resume: bool = False, progress: bool = True) -> LoopResult:
    """Train AEI-Net on a prepared dataset, from scratch or from the run's last checkpoint.

    Args:
        data: a dataset folder written by ``vidswap prepare``.
        run: the run folder (checkpoints, ``losses.csv``, ``samples/``).
        train_config: steps, batch, optimiser, intervals, device, precision.
        model_config: the network sizes (a fresh run; a resumed one uses its checkpoint's).
        identity: ArcFace torch weights (path, see :func:`load_identity_backbone`) or a
            backbone; a fresh run needs it, a resumed one uses its checkpoint's.
        resume: continue the run in ``run`` (same step, optimiser and scaler state).
        progress: show a progress bar on stderr.

    Raises:
        OutputExistsError: ``run`` holds a run and ``resume`` is false.
        InputError, ConfigError, CheckpointError: bad dataset, identity weights or checkpoint.
        TrainingError: a loss stopped being finite.
    """
    run = Path(run)
    runtime = setup_runtime(train_config.device, train_config.precision)
    try:
        if check_run_folder(run, resume=resume):
            trainer = AEITrainer.resume(run, train_config, runtime)
        else:
            if model_config is None or identity is None:
                raise InputError("a new AEI-Net run needs a model config and identity weights", setting="identity")
            backbone = (identity if isinstance(identity, IResNet)
                        else load_identity_backbone(identity, model_config))
            trainer = AEITrainer.create(model_config, backbone, train_config, runtime)
        batches = pair_batches(data, config=train_config, runtime=runtime,
                               image_size=trainer.model_config.image_size, start_step=trainer.step)
        return run_loop(trainer, batches, run=run, config=train_config, runtime=runtime, progress=progress)
    finally:
        teardown_runtime(runtime)
