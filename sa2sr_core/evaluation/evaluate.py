"""Evaluation: CCC per dimension over each whole test split, bootstrap 95% CIs, predictions, scatter plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.evaluation.metrics import bootstrap_ci, ccc, ccc_per_dim
from sa2sr_core.features.batches import ShardDataset
from sa2sr_core.features.emotion import make_emotion_dataset, scan_emotion_split
from sa2sr_core.io import atomic_path
from sa2sr_core.models.regressor import EmotionModel
from sa2sr_core.names import DIMS


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



def mean_ccc(t: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([ccc(t[:, i], p[:, i]) for i in range(t.shape[1])]))


def score(preds: np.ndarray, targets: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """{dim: {ccc, ci95}, mean: {ccc, ci95}, n}: CCC over the whole split with bootstrap 95% intervals."""
    res = {"n": len(preds)}
    point = ccc_per_dim(preds, targets)
    for i, dim in enumerate(DIMS):
        res[dim] = {"ccc": point[dim], "ci95": bootstrap_ci(targets[:, i], preds[:, i], ccc, n_boot, seed)}
    res["mean"] = {"ccc": point["mean"], "ci95": bootstrap_ci(targets, preds, mean_ccc, n_boot, seed)}
    return res


def score_predictions(pred: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict:
    """A predictions frame (utt_id, split, true_<dim>, pred_<dim>) -> {split: score(...)}; e.g. the baseline's."""
    return {split: score(g[[f"pred_{d}" for d in DIMS]].to_numpy(), g[[f"true_{d}" for d in DIMS]].to_numpy(),
                         n_boot, seed) for split, g in pred.groupby("split", sort=False)}


def compact_scores(ev: dict) -> dict:
    """eval.json -> {split: {dim: ccc}, baseline: {split: {dim: ccc}}}: the few numbers `dvc exp show` shows."""
    def block(res: dict) -> dict:
        return {s: {d: round(r[d]["ccc"], 4) for d in (*DIMS, "mean")} for s, r in res.items()
                if isinstance(r, dict) and "mean" in r}
    out = block(ev)
    if isinstance(ev.get("baseline"), dict):
        out["baseline"] = block(ev["baseline"])
    return out


def evaluate_splits(model, split_dirs: dict[str, Path], cfg: FinetuneConfig, device="cpu", n_boot: int = 1000,
                    seed: int = 0) -> tuple[dict, pd.DataFrame]:
    """{split: {dim: {ccc, ci95}, mean: {...}, n, skipped}} and one predictions frame."""
    results, frames = {}, []
    for split, d in split_dirs.items():
        data = scan_emotion_split(d, cfg, model.min_frames())
        ids, preds, targets = predict_split(model, make_emotion_dataset(d, data, cfg, uses_stats(model)), device)
        results[split] = {**score(preds, targets, n_boot, seed), "skipped": data.skipped}
        frames.append(pd.DataFrame({"utt_id": ids, "split": split,
                                    **{f"true_{d}": targets[:, i] for i, d in enumerate(DIMS)},
                                    **{f"pred_{d}": preds[:, i] for i, d in enumerate(DIMS)}}))
    return results, pd.concat(frames, ignore_index=True)


def plot_scatter(pred: pd.DataFrame, path: str | Path, title: str) -> None:
    """Predicted vs true per dimension, one colour per test split, with the identity line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, dim in zip(axes, DIMS):
        for split, g in pred.groupby("split"):
            ax.scatter(g[f"true_{dim}"], g[f"pred_{dim}"], s=8, alpha=0.6,
                       label=f"{split} (CCC {ccc(g[f'true_{dim}'], g[f'pred_{dim}']):.2f})")
        lo = min(pred[f"true_{dim}"].min(), pred[f"pred_{dim}"].min())
        hi = max(pred[f"true_{dim}"].max(), pred[f"pred_{dim}"].max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"true {dim}")
        ax.set_ylabel(f"predicted {dim}")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
