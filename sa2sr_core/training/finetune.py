"""Fine-tuning (paper §3.3, Table 4) as a task of the training loop (sa2sr_core.training.loop): the emotion regressor
on the (pre-trained or scratch) encoder with the CCC loss, selection on the Development mean CCC."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from sa2sr_core.config.baseline import BaselineConfig
from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.config.models import EmotionModelConfig
from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.evaluation.baseline import fit_baseline, split_data
from sa2sr_core.evaluation.evaluate import forward_batch, predict_split, uses_stats
from sa2sr_core.evaluation.metrics import ccc_per_dim
from sa2sr_core.features.batches import Batch
from sa2sr_core.features.emotion import EmotionData, make_emotion_dataset, scan_emotion_split
from sa2sr_core.models import directory
from sa2sr_core.models.backbones import resolve_emotion
from sa2sr_core.models.directory import finetune_dir_config
from sa2sr_core.models.loaders import load_pretrained_encoder
from sa2sr_core.models.regressor import EmotionModel, ccc_loss
from sa2sr_core.training.checkpoint import run_fingerprint
from sa2sr_core.training.loop import Setup, Task, fit, scaled_groups


def start_from_baseline(model: EmotionModel, train_dir, train_data: EmotionData, valid_dir, valid_data: EmotionData,
                        baseline_cfg: BaselineConfig, log=print) -> dict:
    """Initialise the regressor's linear stats path to the `baseline` stage's model (ridge per dimension on the
    utterance functionals, regulariser chosen on Development from params `baseline`); returns its Development CCC."""
    base = fit_baseline(split_data(train_dir, train_data), split_data(valid_dir, valid_data), baseline_cfg)
    mu, sd = base.models[0].mu, base.models[0].sd  # the same standardisation for every dimension
    w = np.stack([m.w for m in base.models])  # (3, K)
    b = np.array([m.y0 for m in base.models])  # (3,)
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    model.regressor.start_from_linear(as_t(mu), as_t(sd), as_t(w), as_t(b))
    log(f"regressor starts from the ridge baseline (Development CCC "
        + ", ".join(f"{k} {v:.3f}" for k, v in base.dev_ccc.items()) + ")")
    return base.dev_ccc


def param_groups(model: EmotionModel, cfg: FinetuneConfig) -> list[dict]:
    """Trainable parameters as optimizer groups: the regressor first (its rate is the one logged), then a
    pre-trained encoder at `encoder_lr_scale` times the rate (a randomly initialised one learns at the full rate)."""
    return scaled_groups(model, model.encoder, cfg.encoder_lr_scale if cfg.init == "pretrained" else 1.0)


def ccc_task_loss(net: torch.nn.Module, batch: Batch):
    """The CCC loss over the three dimensions (paper §3.3)."""
    loss, _ = ccc_loss(forward_batch(net, batch), batch.avd)
    return loss, {"ccc": loss}


class FinetuneTask(Task):
    """Emotion fine-tuning: the model (pre-trained or scratch encoder, optionally frozen, regressor from the ridge
    baseline), the CCC loss, and selection on the Development mean CCC (higher is better)."""

    score, maximize = "val_ccc_mean", True

    def __init__(self, cfg: FinetuneConfig, model_cfg: EmotionModelConfig, train_dir, valid_dir, pretrained_dir=None,
                 features: FeatureConfig | None = None, baseline_cfg: BaselineConfig | None = None):
        self.cfg, self.model_cfg, self.features = cfg, model_cfg, features or FeatureConfig()
        self.train_dir, self.valid_dir, self.pretrained_dir, self.baseline_cfg = train_dir, valid_dir, pretrained_dir, \
            baseline_cfg

    def setup(self, device, world, log) -> Setup:
        cfg = self.cfg
        model_cfg = resolve_emotion(self.model_cfg)  # scratch: the same architecture, randomly initialised
        log(f"encoder: {model_cfg.encoder.describe()} ({cfg.init}{', frozen' if cfg.freeze_encoder else ''})")
        model = EmotionModel(model_cfg)
        if cfg.init == "pretrained":
            load_pretrained_encoder(model, self.pretrained_dir)
        if cfg.freeze_encoder:  # an SSL encoder's layer weights still learn (the SUPERB protocol)
            for name, p in model.encoder.named_parameters():
                p.requires_grad_(name == "layer_weights")
        min_frames = model.min_frames()
        train_data = scan_emotion_split(self.train_dir, cfg, min_frames)
        valid_data = scan_emotion_split(self.valid_dir, cfg, min_frames)
        if len(train_data.avd) < 2 or len(valid_data.avd) < 2:
            raise ValueError(f"too few usable utterances: train {len(train_data.avd)}, validation "
                             f"{len(valid_data.avd)}; skipped {train_data.skipped} / {valid_data.skipped}")
        with torch.no_grad():  # start the output at the training mean: CCC penalises a mean offset
            model.regressor.out.bias.copy_(torch.from_numpy(np.mean(list(train_data.avd.values()), axis=0)))
        if uses_stats(model):  # start from the classical baseline: ridge on the functionals, chosen on Development
            if self.baseline_cfg is None:
                raise ValueError("a regressor with utterance stats starts from the ridge baseline: pass baseline_cfg "
                                 "(params `baseline`)")
            start_from_baseline(model, self.train_dir, train_data, self.valid_dir, valid_data, self.baseline_cfg, log)
            model.regressor.stats_linear.requires_grad_(not cfg.freeze_baseline_path)
        model.to(device)
        train = make_emotion_dataset(self.train_dir, train_data, cfg, uses_stats(model))
        valid = make_emotion_dataset(self.valid_dir, valid_data, cfg, uses_stats(model))
        opt = torch.optim.Adam(param_groups(model, cfg), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        pre_fp = None  # content, not mtime: `dvc checkout` restores files with new mtimes
        if cfg.init == "pretrained":
            pre_fp = hashlib.sha1((Path(self.pretrained_dir) / "model.safetensors").read_bytes()).hexdigest()
        # the corpus's place as well: two corpora with the same utterance ids are two runs, not one to resume
        fp = run_fingerprint(cfg, model_cfg.to_dict(), str(self.train_dir), sorted(train_data.avd)[:50],
                             len(train_data.avd), pre_fp)
        return Setup(model, opt, train, valid, fp, report={
            "skipped": {"train": train_data.skipped, "validation": valid_data.skipped},
            "encoder": model_cfg.encoder.describe()})

    def loss(self, net, batch):
        return ccc_task_loss(net, batch)

    def usable(self, batch: Batch) -> bool:
        return len(batch.utt_ids) >= 2  # CCC needs a variance

    def train_mode(self, net) -> None:
        net.train()
        if self.cfg.freeze_encoder:
            net.encoder.eval()  # frozen: no SpecAugment either

    def validate(self, model, valid, device) -> dict:
        _, preds, targets = predict_split(model, valid, device)
        return {f"val_ccc_{k}": v for k, v in ccc_per_dim(preds, targets).items()}

    def save_best(self, model, out_dir: Path) -> None:
        pretrained = str(self.pretrained_dir) if self.cfg.init == "pretrained" and self.pretrained_dir else None
        directory.save(out_dir, model, finetune_dir_config(model, self.features, (self.cfg.scale_min, self.cfg.scale_max),
                                                           asdict(self.cfg), pretrained))

    def describe(self, row: dict, val: dict, improved: bool) -> str:
        return (f"epoch {row['epoch']}: train loss {row['train_loss_ccc']:.3f} | val CCC A {row['val_ccc_activation']:.3f} "
                f"V {row['val_ccc_valence']:.3f} D {row['val_ccc_dominance']:.3f} mean {row['val_ccc_mean']:.3f}"
                f"{' *' if improved else ''} | lr {row['lr']:.2g}")


def train_emotion(cfg: FinetuneConfig, model_cfg: EmotionModelConfig, train_dir, valid_dir, out_dir,
                  pretrained_dir=None, features: FeatureConfig | None = None,
                  on_epoch_end: Callable[[int, dict], None] | None = None, log=print,
                  baseline_cfg: BaselineConfig | None = None) -> dict:
    """Fine-tune (or resume); the best model goes to out_dir (a model directory of kind "finetune", with the
    `features` it was trained on); returns the selected epoch, history, stopped_by, what was skipped."""
    task = FinetuneTask(cfg, model_cfg, train_dir, valid_dir, pretrained_dir, features, baseline_cfg)
    return fit(task, out_dir, on_epoch_end, log)
