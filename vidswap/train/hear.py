"""HEAR-Net training: learn to restore what a frozen AEI-Net drops, on synthetically occluded faces.

One step (FaceShifter §3.2): occluders are pasted on the targets (:mod:`vidswap.train.occlusion`;
a same pair keeps X_s = X_t, occluder included); with AEI-Net frozen, Y*_st = AEI(X_t, z_id(X_s))
and the heuristic error ΔY_t = X_t − AEI(X_t, z_id(X_t)); HEAR-Net refines Y_st =
HEAR(Y*_st, ΔY_t) under L'_id + L_chg + L'_rec (:func:`vidswap.train.losses.hear_loss`).
The checkpoint is a complete inference model file: AEI-Net, identity and HEAR-Net.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from vidswap import __version__
from vidswap.errors import ConfigError, InputError
from vidswap.models.aei import AEINet
from vidswap.models.checkpoint import ModelBundle
from vidswap.models.config import FaceShifterConfig
from vidswap.models.hear import HEARNet
from vidswap.models.identity import TorchIdentityEncoder
from vidswap.train.config import TrainConfig
from vidswap.train.data import FaceCrops, step_generator
from vidswap.train.identity import identity_embedding
from vidswap.train.loop import LoopResult, StepResult, check_run_folder, pair_batches, run_loop
from vidswap.train.losses import hear_loss
from vidswap.train.occlusion import OcclusionConfig, occlude
from vidswap.train.runtime import Runtime, distribute, setup_runtime, teardown_runtime
from vidswap.train.state import TrainingState, load_model_file, load_resume_point, save_training_checkpoint

__all__ = ["HEARTrainer", "self_reconstruction_errors", "hardest_crops", "train_hear"]

#: Where a HEAR-Net run keeps the crop indices it trains on (chosen once, reused on resume).
SUBSET_NAME = "hardest_crops.json"
_DEFAULT_OCCLUSION = OcclusionConfig()


@dataclass(eq=False)
class HEARTrainer:
    """HEAR-Net, its optimiser and step, around a frozen AEI-Net and identity encoder.

    Build with :meth:`create` (from an AEI-Net model file) or :meth:`resume`.
    """

    model_config: FaceShifterConfig
    train_config: TrainConfig
    runtime: Runtime
    aei: AEINet
    hear: HEARNet
    identity: TorchIdentityEncoder
    optimizer: torch.optim.Adam
    scaler: torch.amp.GradScaler
    occlusion: OcclusionConfig = _DEFAULT_OCCLUSION
    step: int = 0
    kind: str = "hear"
    loss_names: tuple[str, ...] = ("total", "id", "chg", "rec")
    _hear: nn.Module = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.aei.eval().requires_grad_(False)
        self._hear = distribute(self.hear, self.runtime)

    @classmethod
    def create(cls, bundle: ModelBundle, train_config: TrainConfig, runtime: Runtime, *,
               occlusion: OcclusionConfig = _DEFAULT_OCCLUSION) -> HEARTrainer:
        """A fresh HEAR-Net (seeded) around the AEI-Net and identity of ``bundle``."""
        torch.manual_seed(train_config.seed)
        hear = HEARNet(bundle.config).to(runtime.device).train()
        return cls._assemble(bundle, hear, train_config, runtime, occlusion=occlusion, step=0)

    @classmethod
    def resume(cls, run: Path, train_config: TrainConfig, runtime: Runtime, *,
               occlusion: OcclusionConfig = _DEFAULT_OCCLUSION) -> HEARTrainer:
        """HEAR-Net, optimiser, scaler and step of the run's latest checkpoint."""
        bundle, hear, state = load_resume_point(run, runtime.device, kind="hear", part="hear",
                                                network=HEARNet)
        trainer = cls._assemble(bundle, hear.train(), train_config, runtime, occlusion=occlusion,
                                step=state.step)
        trainer.optimizer.load_state_dict(state.optimizers["hear"])
        trainer.scaler.load_state_dict(state.scaler)
        return trainer

    @classmethod
    def _assemble(cls, bundle: ModelBundle, hear: HEARNet, train_config: TrainConfig, runtime: Runtime, *,
                  occlusion: OcclusionConfig, step: int) -> HEARTrainer:
        return cls(model_config=bundle.config, train_config=train_config, runtime=runtime,
                   aei=bundle.aei.to(runtime.device), hear=hear,
                   identity=TorchIdentityEncoder(bundle.identity.to(runtime.device)),
                   optimizer=torch.optim.Adam(hear.parameters(), lr=train_config.lr,
                                              betas=train_config.betas),
                   scaler=runtime.grad_scaler(), occlusion=occlusion, step=step)

    def train_step(self, x_s: Tensor, x_t: Tensor, same: Tensor) -> StepResult:
        """One HEAR-Net step; occlusions depend on (seed, step, rank) only."""
        cfg = self.model_config
        generator = step_generator(self.train_config.seed, self.step, self.runtime.rank, 1)
        x_t = occlude(x_t, self.occlusion, generator).images
        x_s = torch.where(same[:, None, None, None], x_t, x_s)
        with torch.no_grad(), self.runtime.autocast():
            z_s = identity_embedding(self.identity, x_s, cfg)
            y_star, _ = self.aei(x_t, z_s)
            y_tt, _ = self.aei(x_t, identity_embedding(self.identity, x_t, cfg))
            delta = x_t - y_tt.float()
        with self.runtime.autocast():
            y = self._hear(y_star, delta)
            z_y = identity_embedding(self.identity, y, cfg)
            losses = hear_loss(z_id_y=z_y, z_id_s=z_s, y=y, y_star=y_star, x_t=x_t, same=same)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses.total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        values = torch.stack([losses.total, losses.id, losses.chg, losses.rec]).float().tolist()
        return StepResult(losses=dict(zip(self.loss_names, values, strict=True)),
                          samples=(x_s, x_t, y_star, y))

    def save(self, run: Path) -> Path:
        """Checkpoint: model file (aei, identity, hear: a complete inference model) and state."""
        state = TrainingState(kind="hear", step=self.step, optimizers={"hear": self.optimizer.state_dict()},
                              scaler=self.scaler.state_dict(), train_config=self.train_config.to_json(),
                              version=__version__)
        networks = {"aei": self.aei, "identity": self.identity.backbone, "hear": self.hear}
        return save_training_checkpoint(run, config=self.model_config, networks=networks, state=state)


def self_reconstruction_errors(trainer: HEARTrainer, crops: FaceCrops, *, batch_size: int = 8) -> Tensor:
    """½ mean((X − AEI(X, z_id(X)))²) of every crop: how badly the frozen AEI-Net reconstructs it.

    Returns:
        ``len(crops)`` float32 errors, in dataset order.
    """
    errors = []
    with torch.no_grad(), trainer.runtime.autocast():
        for start in range(0, len(crops), batch_size):
            x = torch.stack([crops[i] for i in range(start, min(start + batch_size, len(crops)))])
            x = x.to(trainer.runtime.device)
            y, _ = trainer.aei(x, identity_embedding(trainer.identity, x, trainer.model_config))
            errors.append(0.5 * (y.float() - x).pow(2).flatten(1).mean(dim=1).cpu())
    return torch.cat(errors)


def hardest_crops(errors: Tensor, share: float) -> list[int]:
    """Indices of the ``share`` of crops with the largest errors (at least one), sorted.

    taotaonice trains HEAR-Net on the worst 10%: faces with occlusions are those AEI-Net
    cannot reproduce, so they carry what HEAR-Net has to learn.
    """
    if not 0.0 < share <= 1.0:
        raise ConfigError(f"hardest share must lie in (0, 1], got {share}")
    count = max(1, round(share * len(errors)))
    return sorted(torch.argsort(errors, descending=True)[:count].tolist())


def _subset(run: Path, trainer: HEARTrainer, data: str | Path, share: float,
            resumed: bool) -> list[int] | None:
    """The crops to train on: all (share 1), or the hardest, chosen on a fresh run and reread on resume."""
    path = run / SUBSET_NAME
    if resumed and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))["indices"]
    if share >= 1.0:
        return None
    crops = FaceCrops(data, image_size=trainer.model_config.image_size)
    indices = hardest_crops(self_reconstruction_errors(trainer, crops), share)
    if trainer.runtime.is_main:
        run.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"share": share, "indices": indices}), encoding="utf-8")
    return indices


def train_hear(*, data: str | Path, run: str | Path, train_config: TrainConfig, aei: str | Path | None = None,
               occlusion: OcclusionConfig = _DEFAULT_OCCLUSION, hardest_share: float = 1.0,
               resume: bool = False, progress: bool = True) -> LoopResult:
    """Train HEAR-Net for a trained AEI-Net, from scratch or from the run's last checkpoint.

    Args:
        data: a dataset folder written by ``vidswap prepare``.
        run: the run folder.
        train_config: steps, batch, optimiser, intervals, device, precision.
        aei: an AEI-Net model file or run folder (its latest checkpoint); a fresh run needs it.
        occlusion: the synthetic occluders pasted on targets.
        hardest_share: train on this share of the crops that AEI-Net reconstructs worst (1: all;
            taotaonice: 0.1). Chosen once on a fresh run and kept in ``RUN/hardest_crops.json``.
        resume: continue the run in ``run``.
        progress: show a progress bar on stderr.

    Raises:
        OutputExistsError: ``run`` holds a run and ``resume`` is false.
        InputError, CheckpointError: bad dataset or AEI-Net checkpoint.
        TrainingError: a loss stopped being finite.
    """
    run = Path(run)
    runtime = setup_runtime(train_config.device, train_config.precision)
    try:
        resumed = check_run_folder(run, resume=resume)
        if resumed:
            trainer = HEARTrainer.resume(run, train_config, runtime, occlusion=occlusion)
        else:
            if aei is None:
                raise InputError("a new HEAR-Net run needs aei: an AEI-Net model file or training run "
                                 "folder", setting="aei")
            trainer = HEARTrainer.create(load_model_file(aei, runtime.device), train_config, runtime,
                                         occlusion=occlusion)
        subset = _subset(run, trainer, data, hardest_share, resumed)
        batches = pair_batches(data, config=train_config, runtime=runtime,
                               image_size=trainer.model_config.image_size, start_step=trainer.step,
                               subset=subset)
        return run_loop(trainer, batches, run=run, config=train_config, runtime=runtime, progress=progress)
    finally:
        teardown_runtime(runtime)
