"""Fine-tuning (paper §3.3, Table 4) as a task of the training loop (sa2sr_core.training): the emotion regressor
on the (pre-trained or scratch) encoder with the CCC loss, selection on the Development mean CCC."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import load_file

from sa2sr_core import checkpoint
from sa2sr_core.backbones import resolve_emotion
from sa2sr_core.baseline import fit_baseline, split_data
from sa2sr_core.checkpoint import run_fingerprint
from sa2sr_core.config import BaselineConfig, FinetuneConfig
from sa2sr_core.data import Batch, ShardDataset
from sa2sr_core.emotion_data import EmotionData, ccc_per_dim, make_emotion_dataset, scan_emotion_split
from sa2sr_core.errors import Sa2srError
from sa2sr_core.models.regressor import EmotionModel, EmotionModelConfig, ccc_loss
from sa2sr_core.training import Setup, Task, fit, scaled_groups


class PretrainedModelError(Sa2srError):
    pass


def load_pretrained_encoder(model: EmotionModel, model_dir: str | Path) -> None:
    """Copy the encoder weights of an SA2SR model directory into `model`; clear errors on any mismatch."""
    model_dir = Path(model_dir)
    cfg_path, weights = model_dir / "config.json", model_dir / "model.safetensors"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise PretrainedModelError(f"pre-trained model file {p} is missing: run `dvc repro pretrain` first, "
                                       f"or set finetune.init: scratch")
    saved = {"kind": "bilstm", **json.loads(cfg_path.read_text())["model"]["encoder"]}  # older directories: BiLSTM
    want = asdict(model.cfg.encoder)
    arch = ("kind", "input_dim") + (("stack", "skip", "hidden", "layers") if want["kind"] == "bilstm" else ())
    diff = {k: (saved.get(k), want[k]) for k in arch if saved.get(k) != want[k]}
    if want["kind"] == "ssl":  # the same backbone: model and its whole transformers config
        s_ssl = saved.get("ssl") or {}
        if s_ssl.get("model") != want["ssl"]["model"]:
            diff["ssl.model"] = (s_ssl.get("model"), want["ssl"]["model"])
        elif s_ssl.get("backbone") != want["ssl"]["backbone"]:
            diff["ssl.backbone"] = "the backbone's transformers config changed since pre-training"
    if diff:
        raise PretrainedModelError(f"{cfg_path}: encoder config does not match finetune's (saved, wanted): {diff}")
    state = {k[len("encoder."):]: v for k, v in load_file(str(weights)).items() if k.startswith("encoder.")}
    missing, unexpected = model.encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise PretrainedModelError(f"{weights}: encoder weights do not fit: missing {missing[:5]}, "
                                   f"unexpected {unexpected[:5]}")


def uses_stats(model: EmotionModel) -> bool:
    return model.cfg.regressor.stats_dim > 0


def forward_batch(model: EmotionModel, batch) -> torch.Tensor:
    return model(batch.feats, batch.lengths, batch.stats if uses_stats(model) else None)


@torch.no_grad()
def predict_split(model: EmotionModel, dataset: ShardDataset, device) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(utt_ids, predictions (N, 3), targets (N, 3)) over a whole split, in shard order."""
    model.eval()
    ids, preds, targets = [], [], []
    for batch in dataset.epoch(0, 0, shuffle=False):
        batch = batch.to(device)
        preds.append(forward_batch(model, batch).float().cpu().numpy())
        targets.append(batch.avd.cpu().numpy())
        ids += batch.utt_ids
    return ids, np.concatenate(preds), np.concatenate(targets)


def save_emotion_model(out_dir: Path, model: EmotionModel, extra: dict) -> None:
    checkpoint.save_weights_and_config(out_dir, model, {"model": model.cfg.to_dict(), **extra})


def load_emotion_model(model_dir: str | Path, device="cpu") -> EmotionModel:
    model_dir = Path(model_dir)
    cfg = EmotionModelConfig.from_dict(json.loads((model_dir / "config.json").read_text())["model"])
    model = EmotionModel(cfg)
    model.load_state_dict(load_file(str(model_dir / "model.safetensors")))
    return model.to(device).eval()


def start_from_baseline(model: EmotionModel, train_dir, train_data: EmotionData, valid_dir, valid_data: EmotionData,
                        baseline_cfg: BaselineConfig | None = None, log=print) -> dict:
    """Initialise the regressor's linear stats path to the `baseline` stage's model (ridge per dimension on the
    utterance functionals, regulariser chosen on Development from params `baseline`); returns its Development CCC."""
    base = fit_baseline(split_data(train_dir, train_data), split_data(valid_dir, valid_data),
                        baseline_cfg or BaselineConfig())
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
                 extra: dict | None = None, baseline_cfg: BaselineConfig | None = None):
        self.cfg, self.model_cfg, self.extra, self.baseline_cfg = cfg, model_cfg, extra or {}, baseline_cfg
        self.train_dir, self.valid_dir, self.pretrained_dir = train_dir, valid_dir, pretrained_dir

    def setup(self, device, world, log) -> Setup:
        cfg = self.cfg
        self.model_cfg = resolve_emotion(self.model_cfg)  # scratch: the same architecture, randomly initialised
        log(f"encoder: {self.model_cfg.encoder.describe()} ({cfg.init}"
            f"{', frozen' if cfg.freeze_encoder else ''})")
        model = EmotionModel(self.model_cfg)
        if cfg.init == "pretrained":
            load_pretrained_encoder(model, self.pretrained_dir)
        if cfg.freeze_encoder:  # an SSL encoder's layer weights still learn (the SUPERB protocol)
            for name, p in model.encoder.named_parameters():
                p.requires_grad_(name == "layer_weights")
        min_frames = model.min_frames()
        self.train_data = scan_emotion_split(self.train_dir, cfg, min_frames)
        self.valid_data = scan_emotion_split(self.valid_dir, cfg, min_frames)
        if len(self.train_data.targets) < 2 or len(self.valid_data.targets) < 2:
            raise ValueError(f"too few usable utterances: train {len(self.train_data.targets)}, validation "
                             f"{len(self.valid_data.targets)}; skipped {self.train_data.skipped} / "
                             f"{self.valid_data.skipped}")
        with torch.no_grad():  # start the output at the training mean: CCC penalises a mean offset
            model.regressor.out.bias.copy_(torch.from_numpy(np.mean(list(self.train_data.targets.values()), axis=0)))
        if uses_stats(model):  # start from the classical baseline: ridge on the functionals, chosen on Development
            start_from_baseline(model, self.train_dir, self.train_data, self.valid_dir, self.valid_data,
                                self.baseline_cfg, log)
            model.regressor.stats_linear.requires_grad_(not cfg.freeze_baseline_path)
        model.to(device)
        train = make_emotion_dataset(self.train_dir, self.train_data, cfg, uses_stats(model))
        self.valid = make_emotion_dataset(self.valid_dir, self.valid_data, cfg, uses_stats(model))
        opt = torch.optim.Adam(param_groups(model, cfg), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        pre_fp = None  # content, not mtime: `dvc checkout` restores files with new mtimes
        if cfg.init == "pretrained":
            pre_fp = hashlib.sha1((Path(self.pretrained_dir) / "model.safetensors").read_bytes()).hexdigest()
        fp = run_fingerprint(cfg, self.model_cfg.to_dict(), sorted(self.train_data.targets)[:50],
                             len(self.train_data.targets), pre_fp)
        return Setup(model, opt, train, fp)

    def loss(self, net, batch):
        return ccc_task_loss(net, batch)

    def usable(self, batch: Batch) -> bool:
        return len(batch.utt_ids) >= 2  # CCC needs a variance

    def train_mode(self, net) -> None:
        net.train()
        if self.cfg.freeze_encoder:
            net.encoder.eval()  # frozen: no SpecAugment either

    def validate(self, model, device) -> dict:
        _, preds, targets = predict_split(model, self.valid, device)
        return {f"val_ccc_{k}": v for k, v in ccc_per_dim(preds, targets).items()}

    def save_best(self, model, out_dir: Path) -> None:
        save_emotion_model(out_dir, model, self.extra)

    def describe(self, row: dict, val: dict, improved: bool) -> str:
        return (f"epoch {row['epoch']}: train loss {row['train_loss_ccc']:.3f} | val CCC A {row['val_ccc_activation']:.3f} "
                f"V {row['val_ccc_valence']:.3f} D {row['val_ccc_dominance']:.3f} mean {row['val_ccc_mean']:.3f}"
                f"{' *' if improved else ''} | lr {row['lr']:.2g}")


def train_emotion(cfg: FinetuneConfig, model_cfg: EmotionModelConfig, train_dir, valid_dir, out_dir,
                  pretrained_dir=None, extra: dict | None = None,
                  on_epoch_end: Callable[[int, dict], None] | None = None, log=print,
                  baseline_cfg: BaselineConfig | None = None) -> dict:
    """Fine-tune (or resume); the best model goes to out_dir; returns the selected epoch, history, stopped_by."""
    task = FinetuneTask(cfg, model_cfg, train_dir, valid_dir, pretrained_dir, extra, baseline_cfg)
    res = fit(task, out_dir, on_epoch_end, log)
    return {**res, "skipped": {"train": task.train_data.skipped, "validation": task.valid_data.skipped},
            "encoder": task.model_cfg.encoder.describe()}
