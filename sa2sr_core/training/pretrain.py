"""SA2SR pre-training (paper §4.2) as a task of the training loop (sa2sr_core.training.loop): CTC + lambda *
sentiment CE, per-epoch CER / AUC / WAR on validation, selection on M = CER - AUC (CER alone when lambda = 0)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.config.models import EncoderConfig, SA2SRConfig
from sa2sr_core.config.training import PretrainConfig
from sa2sr_core.errors import Sa2srError
from sa2sr_core.metrics import cer, macro_auc, weighted_average_recall
from sa2sr_core.features.batches import Batch, Example, ShardDataset
from sa2sr_core.features.shards import shard_files
from sa2sr_core.models import directory
from sa2sr_core.models.backbones import load_backbone_weights, resolve_sa2sr
from sa2sr_core.models.directory import pretrain_dir_config
from sa2sr_core.models.sa2sr import SA2SR, greedy_decode
from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.training.checkpoint import run_fingerprint
from sa2sr_core.training.loop import LossFn, Setup, Task, fit, scaled_groups
from sa2sr_core.vocab import ctc_min_frames, decode, encode, normalize_for_ctc


class MissingLabelsError(Sa2srError):
    pass


@dataclass
class PretrainData:
    """What the scan of a split found: usable utterances (tokens, sentiment) and what was skipped."""

    tokens: dict[str, list[int]]
    sentiment: dict[str, int]
    skipped: dict[str, int]
    frames: int


def scan_split(split_dir: str | Path, labels: pd.DataFrame, encoder: EncoderConfig | None = None) -> PretrainData:
    """Read only ids, lengths and transcripts: decide which utterances train (CTC needs as many encoder steps as
    `encoder` gives), count the rest, check labels."""
    encoder = encoder or EncoderConfig()
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
            if encoder.output_length(int(r["num_frames"])) < ctc_min_frames(ids):
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
        return Example(uid, row["feats"], data.tokens[uid], data.sentiment[uid])

    return ShardDataset(split_dir, make_example, cfg.max_frames_per_batch, cfg.max_batch, sort=sort,
                        pool=cfg.shard_pool)


@torch.no_grad()
def evaluate_pretrain(model: SA2SR, dataset: ShardDataset, device, lam: float) -> dict:
    """Validation: CER (greedy CTC), sentiment macro AUC and WAR, mean losses, M."""
    model.eval()
    refs, hyps, labels, probs, ctc_sum, ce_sum, n = [], [], [], [], 0.0, 0.0, 0
    for batch in dataset.epoch(0, 0, shuffle=False):
        batch = batch.to(device)
        out, losses = model(batch.feats, batch.lengths, batch.tokens, batch.token_lengths, batch.sentiment)
        B = len(batch.utt_ids)
        ctc_sum += float(losses["ctc"]) * B
        ce_sum += float(losses["sentiment"]) * B
        n += B
        for ids, tgt, tl in zip(greedy_decode(out["ctc_log_probs"], out["out_lengths"]), batch.tokens.cpu(),
                                batch.token_lengths.cpu()):
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


def param_groups(model: SA2SR) -> list[dict]:
    """One group at the rate; an SSL backbone in a second group at backbone_lr_scale times it."""
    enc = model.cfg.encoder
    if enc.kind != "ssl" or enc.ssl.backbone_lr_scale == 1.0:
        return [{"params": list(model.parameters()), "lr_scale": 1.0}]
    return scaled_groups(model, model.encoder.backbone, enc.ssl.backbone_lr_scale)


def sa2sr_loss(lam: float) -> LossFn:
    """The paper's eq. 1, L = L_ASR + lambda * L_sentiment, and its two terms for the history."""
    def loss(net: torch.nn.Module, batch: Batch):
        _, losses = net(batch.feats, batch.lengths, batch.tokens, batch.token_lengths, batch.sentiment)
        total = losses["ctc"] + lam * losses["sentiment"]
        return total, {"loss": total, "ctc": losses["ctc"], "sentiment": losses["sentiment"]}

    return loss


class PretrainTask(Task):
    """SA2SR pre-training: the model, its batches, eq. 1, and selection on M (lower is better)."""

    score, maximize = "M", False

    def __init__(self, cfg: PretrainConfig, model_cfg: SA2SRConfig, train_dir, valid_dir, labels: pd.DataFrame,
                 features: FeatureConfig | None = None):
        self.cfg, self.model_cfg, self.features = cfg, model_cfg, features or FeatureConfig()
        self.train_dir, self.valid_dir, self.labels = train_dir, valid_dir, labels
        self.loss = sa2sr_loss(cfg.lambda_)

    def setup(self, device, world, log) -> Setup:
        model_cfg = resolve_sa2sr(self.model_cfg)  # an SSL backbone's config, from the hub or a local directory
        enc = model_cfg.encoder
        log(f"encoder: {enc.describe()}")
        train_data = scan_split(self.train_dir, self.labels, enc)
        valid_data = scan_split(self.valid_dir, self.labels, enc)
        if not train_data.tokens or not valid_data.tokens:
            raise ValueError(f"nothing to train on: train usable {len(train_data.tokens)}, validation usable "
                             f"{len(valid_data.tokens)}; skipped {train_data.skipped}")
        train = make_dataset(self.train_dir, train_data, self.cfg)
        valid = make_dataset(self.valid_dir, valid_data, self.cfg)
        model = SA2SR(model_cfg)
        if enc.kind == "ssl":
            load_backbone_weights(model.encoder, log)  # a resumed run then restores its checkpoint over it
        model.to(device)
        opt = torch.optim.Adam(param_groups(model), lr=self.cfg.lr, betas=(self.cfg.beta1, self.cfg.beta2))
        # a decaying schedule spans max_epochs, so there max_epochs is part of the run's trajectory
        tokens = train_data.tokens
        fp = run_fingerprint(self.cfg, model_cfg.to_dict(), world, sorted(tokens)[:50], len(tokens),
                             self.cfg.max_epochs if self.cfg.schedule != "constant" else None)
        return Setup(model, opt, train, valid, fp, lambda: train.count_batches(tokens.__contains__, world),
                     # DDP: a frozen phase or a layer LayerDrop skipped leaves parameters without a gradient
                     find_unused_parameters=enc.kind == "ssl" and (enc.ssl.freeze_backbone_updates > 0
                                                                   or enc.ssl.layerdrop > 0),
                     report={"skipped": {"train": train_data.skipped, "validation": valid_data.skipped},
                             "encoder": enc.describe()})

    def before_update(self, model, update: int) -> None:
        """An SSL backbone stays fixed for its first freeze_backbone_updates updates (the heads warm up first)."""
        enc = model.cfg.encoder
        if enc.kind == "ssl":
            model.encoder.backbone_frozen = update < enc.ssl.freeze_backbone_updates

    def validate(self, model, valid, device) -> dict:
        val = evaluate_pretrain(model, valid, device, self.cfg.lambda_)
        return {"val_loss_ctc": val["loss_ctc"], "val_loss_sentiment": val["loss_sentiment"], "cer": val["cer"],
                "auc": val["auc"], "war": val["war"], "M": val["M"], "_example": val["examples"][0]}

    def save_best(self, model, out_dir: Path) -> None:
        directory.save(out_dir, model, pretrain_dir_config(model, self.features, asdict(self.cfg)))

    def describe(self, row: dict, val: dict, improved: bool) -> str:
        return (f"epoch {row['epoch']}: loss {row['train_loss']:.2f} (ctc {row['train_loss_ctc']:.2f}, sentiment "
                f"{row['train_loss_sentiment']:.3f}) | val CER {row['cer']:.3f} AUC {row['auc']:.3f} "
                f"WAR {row['war']:.3f} M {row['M']:.3f}{' *' if improved else ''} | pad "
                f"{row['padding_fraction']:.1%} | e.g. {val['_example']}")


def train_sa2sr(cfg: PretrainConfig, model_cfg: SA2SRConfig, train_dir, valid_dir, labels: pd.DataFrame,
                out_dir, features: FeatureConfig | None = None,
                on_epoch_end: Callable[[int, dict], None] | None = None, log=print) -> dict:
    """Train (or resume) SA2SR; write the best model to out_dir (a model directory of kind "pretrain", with the
    `features` it was trained on); return the selected epoch's metrics, the history, what was skipped."""
    res = fit(PretrainTask(cfg, model_cfg, train_dir, valid_dir, labels, features), out_dir, on_epoch_end, log)
    return {**res, "selection": "M = CER - AUC" if cfg.lambda_ > 0 else "CER (ASR-only baseline)"}
