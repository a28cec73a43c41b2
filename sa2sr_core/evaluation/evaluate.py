"""Evaluation: CCC per dimension over each whole test split, bootstrap 95% CIs, predictions, scatter plot; for a
model with a categorical head, UA / WA / macro-F1 with CIs and the confusion matrix (and its picture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.metrics import bootstrap_ci, ccc, ccc_per_dim, class_scores, figures, softmax
from sa2sr_core.features.emotion import make_emotion_dataset, read_split, scan_emotion_split
from sa2sr_core.io import atomic_path
from sa2sr_core.models.regressor import EmotionModel
from sa2sr_core.models.run import predict_split, uses_stats
from sa2sr_core.names import DIMS, class_column


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


def score_predictions(pred: pd.DataFrame, n_boot: int = 1000, seed: int = 0, classes: tuple[str, ...] = ()) -> dict:
    """A predictions frame (utt_id, split, true_<dim>, pred_<dim>; category, pred_category) -> {split: scores};
    e.g. the baselines'. Class indices follow `classes` (the model's)."""
    out = {}
    for split, g in pred.groupby("split", sort=False):
        res = {}
        if f"true_{DIMS[0]}" in g:
            m = g[[f"true_{d}" for d in DIMS]].notna().all(axis=1).to_numpy()
            res = score(g[[f"pred_{d}" for d in DIMS]].to_numpy()[m], g[[f"true_{d}" for d in DIMS]].to_numpy()[m],
                        n_boot, seed)
        if "pred_category" in g and classes:
            index = {c: i for i, c in enumerate(classes)}
            h = g[g["category"].notna()]
            res["categories"] = class_scores(h["category"].map(index).to_numpy(), h["pred_category"].map(index).to_numpy(),
                                             classes, n_boot, seed)
            res.setdefault("n", len(h))
        out[split] = res
    return out


def compact_scores(ev: dict) -> dict:
    """eval.json -> {split: {dim: ccc}, baseline: {split: {dim: ccc}}}: the few numbers `dvc exp show` shows.

    eval.json: {data, init, freeze_encoder, lambda, [text], splits: {split: scores}, [cross_validation], baseline:
    {splits, [cross_validation]}, [text_baseline: {splits, [cross_validation]}]} (scores: score() and/or
    `categories`: class_scores())."""
    def block(splits: dict) -> dict:
        out = {}
        for s, r in splits.items():
            if "mean" in r:
                out[s] = {d: round(r[d]["ccc"], 4) for d in (*DIMS, "mean")}
            if "categories" in r:
                c = r["categories"]
                out.setdefault(s, {}).update({k: None if c[k]["value"] is None else round(c[k]["value"], 4)
                                              for k in ("ua", "wa", "macro_f1")})
        return out

    def cv(c: dict) -> dict:  # the folds' mean and sd, and the pooled figures
        spread = {k: {d: None if v is None else round(v, 4) for d, v in c[k].items()} for k in ("folds_mean", "folds_sd")}
        return {**spread, **block({"pooled": c["pooled"]})}

    out = block(ev["splits"])
    if "cross_validation" in ev:
        out.update(cv(ev["cross_validation"]))
    for name in ("baseline", "text_baseline"):  # the classical models on the functionals; on the text alone
        if name in ev:
            out[name] = block(ev[name]["splits"])
            if "cross_validation" in ev[name]:
                out[name].update(cv(ev[name]["cross_validation"]))
    return out


def cross_validation(folds, results: dict, preds: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                     classes: tuple[str, ...] = ()) -> dict:
    """A cross-validation's figures: per fold (its test split's), their mean and sd over folds (sd with n - 1), and
    pooled: every fold's test predictions scored as one set (the figure of the whole corpus, with bootstrap CIs)."""
    per_fold = {f.name: {"test": "+".join(f.tests), "development": "+".join(f.validation), "train": list(f.train),
                         **figures(results[f.tests[0]])} for f in folds}
    keys = [k for k in next(iter(per_fold.values())) if k not in ("test", "development", "train")]
    vals = {k: [v[k] for v in per_fold.values() if v[k] is not None] for k in keys}
    pooled = score_predictions(preds.assign(split="pooled"), n_boot, seed, classes)["pooled"]
    return {"folds": per_fold,
            "folds_mean": {k: float(np.mean(v)) if v else None for k, v in vals.items()},
            "folds_sd": {k: float(np.std(v, ddof=1)) if len(v) > 1 else None for k, v in vals.items()},
            "pooled": pooled}


def model_task(model: EmotionModel) -> tuple[bool, tuple[str, ...]]:
    """(whether the model's A/V/D outputs were trained, its class names)."""
    return model.cfg.regressor.dimensions, tuple(model.cfg.regressor.classes)


def evaluate_splits(model, split_dirs: dict[str, Path], cfg: FinetuneConfig, device="cpu", n_boot: int = 1000,
                    seed: int = 0, text=None) -> tuple[dict, pd.DataFrame]:
    """{split: {dim: {ccc, ci95}, mean: {...}, n, skipped} and/or {categories: class_scores(...)}} and one
    predictions frame (true_/pred_<dim>; category, pred_category, p_<class>). text: the text features (a
    TextFeatures) of a model with the text route."""
    dims, classes = model_task(model)
    task = "both" if dims and classes else "categories" if classes else "dimensions"
    results, frames = {}, []
    for split, d in split_dirs.items():
        data = scan_emotion_split(read_split(d, text) if text is not None else d, cfg, model.min_frames(), task,
                                  classes)
        ids, out, targets, cats = predict_split(model, make_emotion_dataset(d, data, cfg, uses_stats(model)), device,
                                                with_categories=True)
        preds, frame = out[:, :3], {"utt_id": ids, "split": split}
        res = {"skipped": data.skipped}
        if dims:
            m = ~np.isnan(targets).any(axis=1)
            res = {**score(preds[m], targets[m], n_boot, seed), **res}
            frame.update({**{f"true_{d}": targets[:, i] for i, d in enumerate(DIMS)},
                          **{f"pred_{d}": preds[:, i] for i, d in enumerate(DIMS)}})
        if classes:
            probs, m = softmax(out[:, 3:]), cats >= 0
            res["categories"] = class_scores(cats[m], probs[m].argmax(1), classes, n_boot, seed)
            res.setdefault("n", int(m.sum()))
            frame.update({"category": [classes[c] if c >= 0 else None for c in cats],
                          "pred_category": [classes[i] for i in probs.argmax(1)],
                          **{class_column(c): probs[:, i] for i, c in enumerate(classes)}})
        results[split] = res
        frames.append(pd.DataFrame(frame))
    return results, pd.concat(frames, ignore_index=True)


def plot_confusion(results: dict, path: str | Path, title: str) -> None:
    """One confusion matrix per test split (rows: true class, normalised per row; counts written in)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = [s for s, r in results.items() if "categories" in r]
    fig, axes = plt.subplots(1, len(splits), figsize=(4.6 * len(splits), 4.4), squeeze=False)
    for ax, split in zip(axes[0], splits):
        c = results[split]["categories"]
        counts, names = np.array(c["confusion"]["counts"]), c["confusion"]["classes"]
        rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{split}: UA {c['ua']['value'] or float('nan'):.2f}, macro-F1 "
                     f"{c['macro_f1']['value'] or float('nan'):.2f} (n {c['n']})", fontsize=9)
    import textwrap

    fig.suptitle(textwrap.fill(title, width=int(9 * 4.6 * len(splits))), fontsize=9)  # ~9 characters an inch
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


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


def plot_absent(path: str | Path, message: str) -> None:
    """A declared picture that this model has nothing to show in: the reason, written out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6, 1.2))
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
