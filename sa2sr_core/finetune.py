"""Fine-tuning (paper §3.3, Table 4): emotion regressor on the (pre-trained or scratch) encoder with the CCC
loss; selection on the validation (Development) mean CCC; resumable like pre-training."""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow.parquet as pq
import torch
from safetensors.torch import load_file

from sa2sr_core.data import Example, ShardDataset
from sa2sr_core.metrics import ccc
from sa2sr_core.models.regressor import EmotionModel, EmotionModelConfig, ccc_loss
from sa2sr_core import checkpoint
from sa2sr_core.checkpoint import run_fingerprint
from sa2sr_core.pretrain import pick_device
from sa2sr_core.schedule import lr_factor, set_lr
from sa2sr_core.shards import shard_files, stats_from_batch

DIMS = ("activation", "valence", "dominance")


@dataclass
class FinetuneConfig:
    """params.yaml `finetune` (+ `seed`)."""

    init: str = "pretrained"  # pretrained | scratch
    freeze_encoder: bool = False
    lr: float = 5e-4
    max_epochs: int = 40  # a ceiling: runs stop by patience
    patience: int = 6  # epochs without a better Development mean CCC before stopping
    warmup_steps: int = 0  # linear learning-rate warm-up (updates)
    lr_plateau_patience: int = 2  # epochs without improvement before the rate is multiplied by lr_decay
    lr_decay: float = 0.5
    min_delta: float = 0.0  # a Development mean CCC gain at or below this is not an improvement
    encoder_lr_scale: float = 1.0  # a pre-trained encoder learns at lr x this (1.0: one rate for all, the paper)
    freeze_baseline_path: bool = False  # with utterance stats: keep the ridge-initialised linear path fixed
    max_frames_per_batch: int = 8000
    max_batch: int = 32
    grad_clip: float = 5.0
    scale_min: float = 1.0  # label scale of the corpus (MSP-Podcast: 1-7)
    scale_max: float = 7.0
    seed: int = 1234
    device: str = "auto"

    def __post_init__(self):
        if self.init not in ("pretrained", "scratch"):
            raise ValueError(f"finetune.init must be 'pretrained' or 'scratch', got {self.init!r}")
        if not self.encoder_lr_scale >= 0:  # also rejects NaN
            raise ValueError(f"finetune.encoder_lr_scale must be >= 0 (0 keeps the pre-trained encoder fixed), "
                             f"got {self.encoder_lr_scale!r}")


class PretrainedModelError(ValueError):
    pass


def load_pretrained_encoder(model: EmotionModel, model_dir: str | Path) -> None:
    """Copy the encoder weights of an SA2SR model directory into `model`; clear errors on any mismatch."""
    model_dir = Path(model_dir)
    cfg_path, weights = model_dir / "config.json", model_dir / "model.safetensors"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise PretrainedModelError(f"pre-trained model file {p} is missing: run `dvc repro pretrain` first, "
                                       f"or set finetune.init: scratch")
    saved = json.loads(cfg_path.read_text())["model"]["encoder"]
    want = asdict(model.cfg.encoder)
    arch = ("input_dim", "stack", "skip", "hidden", "layers")
    diff = {k: (saved.get(k), want[k]) for k in arch if saved.get(k) != want[k]}
    if diff:
        raise PretrainedModelError(f"{cfg_path}: encoder config does not match finetune's (saved, wanted): {diff}")
    state = {k[len("encoder."):]: v for k, v in load_file(str(weights)).items() if k.startswith("encoder.")}
    missing, unexpected = model.encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise PretrainedModelError(f"{weights}: encoder weights do not fit: missing {missing[:5]}, "
                                   f"unexpected {unexpected[:5]}")


@dataclass
class EmotionData:
    targets: dict[str, np.ndarray]
    skipped: dict[str, int]


class MissingStatsError(ValueError):
    pass


def read_stats(split_dir, ids) -> np.ndarray:
    """(len(ids), K) utterance functionals of `ids` from a split's shards, in the order of `ids`."""
    want, found = set(ids), {}
    for path in shard_files(split_dir):
        if "utt_stats" not in pq.read_schema(path).names:
            raise MissingStatsError(f"{path} has no utt_stats column (made by an older sa2sr): "
                                    f"re-run `dvc repro features`")
        for b in pq.read_table(path, columns=["utt_id", "utt_stats"]).to_batches():
            for u, row in zip(b.column(0).to_pylist(), stats_from_batch(b)):
                if u in want:
                    found[u] = row
    return np.stack([found[u] for u in ids]).astype(np.float32)


def scan_emotion_split(split_dir, cfg: FinetuneConfig, min_frames: int) -> EmotionData:
    """Utterances with usable AVD labels and enough frames; count the rest."""
    targets = {}
    skipped = {"missing_or_nan_label": 0, "label_outside_scale": 0, "too_short_for_regressor": 0}
    files = shard_files(split_dir)
    if not files:
        raise FileNotFoundError(f"no feature shards under {split_dir}: run `dvc repro features` first")
    for path in files:
        for r in pq.read_table(path, columns=["utt_id", "num_frames", *DIMS]).to_pylist():
            avd = [r[d] for d in DIMS]
            if any(v is None or math.isnan(v) for v in avd):
                skipped["missing_or_nan_label"] += 1
            elif any(not cfg.scale_min <= v <= cfg.scale_max for v in avd):
                skipped["label_outside_scale"] += 1
            elif r["num_frames"] < min_frames:
                skipped["too_short_for_regressor"] += 1
            else:
                targets[r["utt_id"]] = np.array(avd, np.float32)
    return EmotionData(targets, skipped)


def make_emotion_dataset(split_dir, data: EmotionData, cfg: FinetuneConfig, stats: bool = False) -> ShardDataset:
    """Batches of a split's usable utterances; stats: also the utterance functionals (Batch.stats)."""
    def make_example(row: dict) -> Example | None:
        t = data.targets.get(row["utt_id"])
        return None if t is None else Example(row["utt_id"], row["lfbe"], targets=t, stats=row.get("utt_stats"))

    return ShardDataset(split_dir, make_example, cfg.max_frames_per_batch, cfg.max_batch, stats=stats)


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


def ccc_per_dim(preds: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """CCC per dimension over the whole set (not batch-averaged) and their mean."""
    out = {d: ccc(targets[:, i], preds[:, i]) for i, d in enumerate(DIMS)}
    out["mean"] = float(np.mean([out[d] for d in DIMS]))
    return out


def save_emotion_model(out_dir: Path, model: EmotionModel, extra: dict) -> None:
    checkpoint.save_weights_and_config(out_dir, model, {"model": model.cfg.to_dict(), **extra})


def load_emotion_model(model_dir: str | Path, device="cpu") -> EmotionModel:
    model_dir = Path(model_dir)
    cfg = EmotionModelConfig.from_dict(json.loads((model_dir / "config.json").read_text())["model"])
    model = EmotionModel(cfg)
    model.load_state_dict(load_file(str(model_dir / "model.safetensors")))
    return model.to(device).eval()


def start_from_baseline(model: EmotionModel, train_dir, train_data: EmotionData, valid_dir, valid_data: EmotionData,
                        log=print) -> dict:
    """Initialise the regressor's linear stats path to the `baseline` stage's model (ridge per dimension on the
    utterance functionals, regulariser chosen on Development); returns its Development CCC."""
    from sa2sr_core.baseline import BaselineConfig, fit_baseline, split_data

    base = fit_baseline(split_data(train_dir, train_data), split_data(valid_dir, valid_data), BaselineConfig())
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
    enc_ids = {id(p) for p in model.encoder.parameters()}
    head = [p for p in model.parameters() if p.requires_grad and id(p) not in enc_ids]
    enc = [p for p in model.encoder.parameters() if p.requires_grad]
    groups = [{"params": head, "lr_scale": 1.0}]
    if enc:
        groups.append({"params": enc, "lr_scale": cfg.encoder_lr_scale if cfg.init == "pretrained" else 1.0})
    return groups


def train_emotion(cfg: FinetuneConfig, model_cfg: EmotionModelConfig, train_dir, valid_dir, out_dir,
                  pretrained_dir=None, extra: dict | None = None,
                  on_epoch_end: Callable[[int, dict], None] | None = None, log=print) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    model = EmotionModel(model_cfg)
    if cfg.init == "pretrained":
        load_pretrained_encoder(model, pretrained_dir)
    if cfg.freeze_encoder:
        for p in model.encoder.parameters():
            p.requires_grad_(False)
    min_frames = model.min_frames()
    train_data = scan_emotion_split(train_dir, cfg, min_frames)
    valid_data = scan_emotion_split(valid_dir, cfg, min_frames)
    if len(train_data.targets) < 2 or len(valid_data.targets) < 2:
        raise ValueError(f"too few usable utterances: train {len(train_data.targets)}, validation "
                         f"{len(valid_data.targets)}; skipped {train_data.skipped} / {valid_data.skipped}")
    with torch.no_grad():  # start the output at the training mean: CCC penalises a mean offset
        model.regressor.out.bias.copy_(torch.from_numpy(np.mean(list(train_data.targets.values()), axis=0)))
    if uses_stats(model):  # start from the classical baseline: ridge on the functionals, chosen on Development
        start_from_baseline(model, train_dir, train_data, valid_dir, valid_data, log)
        model.regressor.stats_linear.requires_grad_(not cfg.freeze_baseline_path)
    model.to(device)
    train_ds = make_emotion_dataset(train_dir, train_data, cfg, uses_stats(model))
    valid_ds = make_emotion_dataset(valid_dir, valid_data, cfg, uses_stats(model))
    opt = torch.optim.Adam(param_groups(model, cfg), lr=cfg.lr)
    pre_fp = None  # content, not mtime: `dvc checkout` restores files with new mtimes
    if cfg.init == "pretrained":
        pre_fp = hashlib.sha1((Path(pretrained_dir) / "model.safetensors").read_bytes()).hexdigest()
    fp = run_fingerprint(cfg, model_cfg.to_dict(), sorted(train_data.targets)[:50], len(train_data.targets), pre_fp)
    ckpt_path = out_dir / "checkpoint.pt"
    st = checkpoint.resume(ckpt_path, fp, model, opt, log)
    # learning rate: linear warm-up, then the peak until Development stops improving for lr_plateau_patience
    # epochs, then lr_decay times lower after each such stretch; both follow from the history on resume
    step = int(st.history[-1]["updates"]) if st.history else 0
    scale = float(st.history[-1]["lr_next"]) / cfg.lr if st.history else 1.0
    for epoch in range(st.epoch, cfg.max_epochs):
        if st.bad_epochs >= cfg.patience:
            break
        model.train()
        if cfg.freeze_encoder:
            model.encoder.eval()  # frozen: no SpecAugment either
        t0, losses, frames = time.perf_counter(), torch.zeros((), device=device), 0
        nb = 0
        for batch in train_ds.epoch(epoch, cfg.seed):
            if len(batch.utt_ids) < 2:
                continue  # CCC needs a variance
            set_lr(opt, cfg.lr * scale * lr_factor(step, 0, cfg.warmup_steps))
            frames += int(batch.lengths.sum())
            batch = batch.to(device)
            loss, _ = ccc_loss(forward_batch(model, batch), batch.avd)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            losses += loss.detach()
            nb += 1
            step += 1
        _, preds, targets = predict_split(model, valid_ds, device)
        val = ccc_per_dim(preds, targets)
        row = {"epoch": epoch + 1, "train_loss_ccc": float(losses) / max(nb, 1), "val_ccc_activation": val["activation"],
               "val_ccc_valence": val["valence"], "val_ccc_dominance": val["dominance"], "val_ccc_mean": val["mean"],
               "frames_per_s": frames / (time.perf_counter() - t0), "lr": opt.param_groups[0]["lr"], "updates": step}
        st.epoch = epoch + 1
        improved = st.best is None or row["val_ccc_mean"] > st.best["val_ccc_mean"] + cfg.min_delta
        if improved:
            st.best, st.bad_epochs = dict(row), 0
            save_emotion_model(out_dir, model, extra or {})
        else:
            st.bad_epochs += 1
            if st.bad_epochs % cfg.lr_plateau_patience == 0:
                scale *= cfg.lr_decay
        row["lr_next"] = cfg.lr * scale
        st.history.append(row)
        log(f"epoch {epoch + 1}: train loss {row['train_loss_ccc']:.3f} | val CCC A {val['activation']:.3f} "
            f"V {val['valence']:.3f} D {val['dominance']:.3f} mean {val['mean']:.3f}{' *' if improved else ''} "
            f"| lr {row['lr']:.2g}")
        checkpoint.save(ckpt_path, fp, model, opt, st)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
    stopped = "patience" if st.bad_epochs >= cfg.patience else "max_epochs"
    return {"selected": st.best, "history": st.history, "epochs_run": len(st.history), "stopped_by": stopped,
            "skipped": {"train": train_data.skipped, "validation": valid_data.skipped}}
