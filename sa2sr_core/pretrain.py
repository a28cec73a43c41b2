"""SA2SR pre-training loop (paper §4.2): CTC + lambda * sentiment CE, per-epoch CER / AUC / WAR, selection on
M = CER - AUC (CER alone when lambda = 0), early stopping, resumable checkpoints, DDP via torchrun."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
import torch.distributed as dist

from sa2sr_core import checkpoint
from sa2sr_core.checkpoint import run_fingerprint
from sa2sr_core.data import Example, ShardDataset, prefetch
from sa2sr_core.io import write_json
from sa2sr_core.metrics import cer, macro_auc, weighted_average_recall
from sa2sr_core.models.sa2sr import SA2SR, SENTIMENT_CLASSES, SA2SRConfig, greedy_decode
from sa2sr_core.schedule import SCHEDULES, lr_factor, set_lr
from sa2sr_core.shards import shard_files
from sa2sr_core.vocab import CHARS, ctc_min_frames, decode, encode, normalize_for_ctc


@dataclass
class PretrainConfig:
    """params.yaml `pretrain` (+ top-level `lambda` and `seed`)."""

    lambda_: float = 200.0
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    max_epochs: int = 3
    patience: int = 25
    max_frames_per_batch: int = 16000
    max_batch: int = 64
    grad_clip: float = 5.0
    amp: bool = False  # bf16 autocast on CUDA
    seed: int = 1234
    device: str = "auto"
    schedule: str = "constant"  # constant | cosine (sa2sr_core.schedule)
    warmup_steps: int = 0  # linear warm-up updates
    final_lr_ratio: float = 0.05  # cosine: last update's rate / peak
    short_first_epochs: int = 0  # epochs whose batches go shortest first (SortaGrad), then random order
    shard_pool: int = 1  # shards read together and batched as one (memory: one pool)
    prefetch: int = -1  # batches read and collated ahead in a background thread; -1: 4 on CUDA, 0 on CPU

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"pretrain.schedule must be one of {SCHEDULES}, got {self.schedule!r}")


class MissingLabelsError(ValueError):
    pass


@dataclass
class PretrainData:
    """What the scan of a split found: usable utterances (tokens, sentiment) and what was skipped."""

    tokens: dict[str, list[int]]
    sentiment: dict[str, int]
    skipped: dict[str, int]
    frames: int


def scan_split(split_dir: str | Path, labels: pd.DataFrame, stack: int = 3, skip: int = 2) -> PretrainData:
    """Read only ids, lengths and transcripts: decide which utterances train, count the rest, check labels."""
    lab = dict(zip(labels["utt_id"], labels["sentiment"]))
    tokens, sentiment, frames = {}, {}, 0
    skipped = {"empty_transcript": 0, "outside_vocabulary": 0, "too_short_for_ctc": 0, "no_sentiment_label": 0}
    missing = []
    for path in shard_files(split_dir):
        t = pq.read_table(path, columns=["utt_id", "source_utt_id", "num_frames", "text"]).to_pylist()
        for r in t:
            text = r["text"]
            if text is None or not str(text).strip():
                skipped["empty_transcript"] += 1
                continue
            norm = normalize_for_ctc(text)
            if norm is None:
                skipped["outside_vocabulary"] += 1
                continue
            ids = encode(norm)
            if max(0, (r["num_frames"] - stack) // skip + 1) < ctc_min_frames(ids):
                skipped["too_short_for_ctc"] += 1
                continue
            src = r["source_utt_id"]
            if src not in lab:
                missing.append(src)
                continue
            if lab[src] is None or (isinstance(lab[src], float) and math.isnan(lab[src])):
                skipped["no_sentiment_label"] += 1  # the labeller got an empty text
                continue
            tokens[r["utt_id"]] = ids
            sentiment[r["utt_id"]] = SENTIMENT_CLASSES.index(lab[src])
            frames += r["num_frames"]
    if missing:
        uniq = sorted(set(missing))
        raise MissingLabelsError(f"{len(uniq)} utterances under {split_dir} have no pseudo-label row "
                                 f"(first: {uniq[:10]}); re-run `dvc repro pseudo_label`")
    return PretrainData(tokens, sentiment, skipped, frames)


def make_dataset(split_dir, data: PretrainData, cfg: PretrainConfig, sort: bool = True) -> ShardDataset:
    def make_example(row: dict) -> Example | None:
        uid = row["utt_id"]
        if uid not in data.tokens:
            return None
        return Example(uid, row["lfbe"], data.tokens[uid], data.sentiment[uid])

    return ShardDataset(split_dir, make_example, cfg.max_frames_per_batch, cfg.max_batch, sort=sort,
                        pool=cfg.shard_pool)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def evaluate_pretrain(model: SA2SR, dataset: ShardDataset, device, lam: float) -> dict:
    """Validation: CER (greedy CTC), sentiment macro AUC and WAR, mean losses, M."""
    model.eval()
    refs, hyps, labels, probs, ctc_sum, ce_sum, n = [], [], [], [], 0.0, 0.0, 0
    for batch in dataset.epoch(0, 0, shuffle=False):
        batch = batch.to(device)
        out, losses = model(batch.feats, batch.lengths, batch.targets, batch.target_lengths, batch.sentiment)
        B = len(batch.utt_ids)
        ctc_sum += float(losses["ctc"]) * B
        ce_sum += float(losses["sentiment"]) * B
        n += B
        for ids, tgt, tl in zip(greedy_decode(out["ctc_log_probs"], out["out_lengths"]), batch.targets.cpu(),
                                batch.target_lengths.cpu()):
            hyps.append(decode(ids))
            refs.append(decode(tgt[:tl].tolist()))
        probs.append(torch.softmax(out["sentiment_logits"].float(), -1).cpu().numpy())
        labels.append(batch.sentiment.cpu().numpy())
    probs_np, labels_np = np.concatenate(probs), np.concatenate(labels)
    res = {"cer": cer(refs, hyps), "auc": macro_auc(labels_np, probs_np),
           "war": weighted_average_recall(labels_np, probs_np.argmax(1)),
           "loss_ctc": ctc_sum / n, "loss_sentiment": ce_sum / n, "utterances": n,
           "examples": [{"ref": r, "hyp": h} for r, h in list(zip(refs, hyps))[:3]]}
    auc = res["auc"] if not math.isnan(res["auc"]) else 0.5
    res["M"] = res["cer"] - auc if lam > 0 else res["cer"]
    return res


def save_model_dir(out_dir: Path, model: SA2SR, extra_config: dict) -> None:
    """The self-contained model directory: weights (safetensors), config, vocabulary."""
    checkpoint.save_weights_and_config(out_dir, model, {"model": model.cfg.to_dict(), **extra_config})
    write_json(out_dir / "vocab.json", {"chars": CHARS, "blank": 0})


def train_sa2sr(cfg: PretrainConfig, model_cfg: SA2SRConfig, train_dir, valid_dir, labels: pd.DataFrame,
                out_dir, extra_config: dict | None = None,
                on_epoch_end: Callable[[int, dict], None] | None = None, log=print) -> dict:
    """Train (or resume) SA2SR; write the best model to out_dir; return the selected epoch's metrics."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    device = pick_device(cfg.device)
    if distributed and device.type == "cuda":
        device = torch.device("cuda", rank % torch.cuda.device_count())
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)

    train_data = scan_split(train_dir, labels, model_cfg.encoder.stack, model_cfg.encoder.skip)
    valid_data = scan_split(valid_dir, labels, model_cfg.encoder.stack, model_cfg.encoder.skip)
    train_ds, valid_ds = make_dataset(train_dir, train_data, cfg), make_dataset(valid_dir, valid_data, cfg)
    if not train_data.tokens or not valid_data.tokens:
        raise ValueError(f"nothing to train on: train usable {len(train_data.tokens)}, "
                         f"validation usable {len(valid_data.tokens)}; skipped {train_data.skipped}")

    model = SA2SR(model_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    ddp = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    # a cosine schedule spans max_epochs, so there max_epochs is part of the run's trajectory
    fp = run_fingerprint(cfg, model_cfg.to_dict(), world, sorted(train_data.tokens)[:50], len(train_data.tokens),
                         cfg.max_epochs if cfg.schedule != "constant" else None)
    ckpt_path = out_dir / "checkpoint.pt"
    st = checkpoint.resume(ckpt_path, fp, model, opt, log)
    amp = cfg.amp and device.type == "cuda"
    depth = cfg.prefetch if cfg.prefetch >= 0 else (4 if device.type == "cuda" else 0)
    per_epoch = train_ds.count_batches(train_data.tokens.__contains__, world) if cfg.schedule != "constant" else 0
    step = int(st.history[-1].get("updates", 0)) if st.history else 0
    for epoch in range(st.epoch, cfg.max_epochs):
        if st.bad_epochs >= cfg.patience:
            break
        ddp.train()
        t0, frames, pad_frames, nb = time.perf_counter(), 0, 0, 0
        sums = torch.zeros(3, device=device)  # ctc, sentiment, total: summed on the device, read once per epoch
        batches = train_ds.epoch(epoch, cfg.seed, shuffle=True, rank=rank, world=world,
                                 short_first=epoch < cfg.short_first_epochs)
        for batch in prefetch(batches, depth, pin=device.type == "cuda"):
            set_lr(opt, cfg.lr * lr_factor(step, per_epoch * cfg.max_epochs, cfg.warmup_steps, cfg.schedule,
                                           cfg.final_lr_ratio))
            frames += int(batch.lengths.sum())  # host tensors: no device synchronisation
            pad_frames += batch.feats.shape[0] * batch.feats.shape[1]
            batch = batch.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                _, losses = ddp(batch.feats, batch.lengths, batch.targets, batch.target_lengths, batch.sentiment)
            loss = losses["ctc"] + cfg.lambda_ * losses["sentiment"]  # eq. 1
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sums += torch.stack([losses["ctc"], losses["sentiment"], loss]).detach().float()
            nb += 1
            step += 1
        train_s = time.perf_counter() - t0
        sums = dict(zip(("ctc", "sentiment", "loss"), sums.tolist()))
        val = evaluate_pretrain(model, valid_ds, device, cfg.lambda_)
        row = {"epoch": epoch + 1, "train_loss": sums["loss"] / max(nb, 1), "train_loss_ctc": sums["ctc"] / max(nb, 1),
               "train_loss_sentiment": sums["sentiment"] / max(nb, 1),
               "val_loss_ctc": val["loss_ctc"], "val_loss_sentiment": val["loss_sentiment"],
               "cer": val["cer"], "auc": val["auc"], "war": val["war"], "M": val["M"],
               "padding_fraction": 1 - frames / max(pad_frames, 1), "frames_per_s": frames * world / train_s,
               "lr": opt.param_groups[0]["lr"], "updates": step}
        st.history.append(row)
        st.epoch = epoch + 1
        improved = st.best is None or row["M"] < st.best["M"]
        if improved:
            st.best, st.bad_epochs = dict(row), 0
            if rank == 0:
                save_model_dir(out_dir, model, extra_config or {})
        else:
            st.bad_epochs += 1
        if rank == 0:
            log(f"epoch {epoch + 1}: loss {row['train_loss']:.2f} (ctc {row['train_loss_ctc']:.2f}, sentiment "
                f"{row['train_loss_sentiment']:.3f}) | val CER {row['cer']:.3f} AUC {row['auc']:.3f} "
                f"WAR {row['war']:.3f} M {row['M']:.3f}{' *' if improved else ''} | pad "
                f"{row['padding_fraction']:.1%}, {row['frames_per_s']:.0f} frames/s | e.g. {val['examples'][0]}")
            checkpoint.save(ckpt_path, fp, model, opt, st)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
    return {"selected": st.best, "epochs_run": len(st.history), "history": st.history, "model": model,
            "skipped": {"train": train_data.skipped, "validation": valid_data.skipped},
            "selection": "M = CER - AUC" if cfg.lambda_ > 0 else "CER (ASR-only baseline)"}
