"""Metrics, a leaf every step may use: CER (edit distance), CCC (+ percentile bootstrap CI) written here; AUC,
accuracy, UA, macro-F1 and the confusion matrix are scikit-learn's (what every SER paper's reviewer checks)."""

from __future__ import annotations

import numpy as np

from sa2sr_core.names import DIMS


def edit_distance(a, b) -> int:
    """Levenshtein distance between two sequences (O(len(a) * len(b)) time, O(len(b)) memory)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def cer(refs: list[str], hyps: list[str]) -> float:
    """Character error rate over a set: total edits / total reference characters."""
    total = sum(len(r) for r in refs)
    if total == 0:
        raise ValueError("CER needs at least one non-empty reference")
    return sum(edit_distance(r, h) for r, h in zip(refs, hyps)) / total


def binary_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (scikit-learn; ties count half); NaN when `y` has one class only."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, bool)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(score)))


def macro_auc(labels: np.ndarray, probs: np.ndarray) -> float:
    """One-vs-rest AUC averaged over the classes present with both positives and negatives."""
    aucs = [binary_auc(labels == k, probs[:, k]) for k in range(probs.shape[1])]
    aucs = [a for a in aucs if not np.isnan(a)]
    return float(np.mean(aucs)) if aucs else float("nan")


def weighted_average_recall(labels: np.ndarray, preds: np.ndarray) -> float:
    """Per-class recall weighted by class support: accuracy (WA)."""
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(labels, preds)) if len(labels) else float("nan")


def ccc(y: np.ndarray, yhat: np.ndarray) -> float:
    """Concordance correlation coefficient (paper eq. 2) over the whole set, population moments."""
    y, yhat = np.asarray(y, np.float64), np.asarray(yhat, np.float64)
    my, mh = y.mean(), yhat.mean()
    cov = ((y - my) * (yhat - mh)).mean()
    denom = y.var() + yhat.var() + (my - mh) ** 2
    return float(2 * cov / denom) if denom > 0 else float("nan")


def bootstrap_ci(y: np.ndarray, yhat: np.ndarray, fn=ccc, n: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) interval of fn(y, yhat), resampling utterances (rows: y and yhat may be
    (N,) or (N, D))."""
    rng = np.random.default_rng(seed)
    y, yhat = np.asarray(y), np.asarray(yhat)
    stats = [fn(y[idx], yhat[idx]) for idx in (rng.integers(0, len(y), len(y)) for _ in range(n))]
    lo, hi = np.nanpercentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def ccc_per_dim(preds: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """CCC per dimension over the whole set (not batch-averaged) and their mean."""
    out = {d: ccc(targets[:, i], preds[:, i]) for i, d in enumerate(DIMS)}
    out["mean"] = float(np.mean([out[d] for d in DIMS]))
    return out


# ------------------------------------------------------------------------------------- categories (class indices)
def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise probabilities of (N, C) logits."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def confusion(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(labels, preds, labels=np.arange(num_classes)).astype(np.int64)


def unweighted_accuracy(labels: np.ndarray, preds: np.ndarray) -> float:
    """UA: the mean of the per-class recalls over the classes present in `labels` (the SER convention;
    scikit-learn's balanced accuracy)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    if not len(labels):
        return float("nan")
    with warnings.catch_warnings():  # a predicted class absent from `labels` has no recall: left out, as meant
        warnings.simplefilter("ignore")
        return float(balanced_accuracy_score(labels, preds))


def macro_f1(labels: np.ndarray, preds: np.ndarray) -> float:
    """The mean F1 over the classes present in `labels` or `preds` (a class never predicted has F1 0)."""
    import warnings

    from sklearn.metrics import f1_score

    if not len(labels):
        return float("nan")
    with warnings.catch_warnings():  # a bootstrap resample of one class only is scored, not warned about
        warnings.simplefilter("ignore")
        return float(f1_score(labels, preds, average="macro", zero_division=0))


CLASS_METRICS = {"ua": unweighted_accuracy, "wa": weighted_average_recall, "macro_f1": macro_f1}


def class_scores(labels: np.ndarray, preds: np.ndarray, classes: tuple[str, ...], n_boot: int = 1000,
                 seed: int = 0) -> dict:
    """{ua, wa, macro_f1: {value, ci95}, n, per_class_recall, confusion}: over the whole split, percentile
    bootstrap intervals resampling utterances."""
    out = {"n": int(len(labels))}
    if not len(labels):  # e.g. no test utterance of a class Train has: nothing to score, said as such
        return {**out, **{name: {"value": None, "ci95": None} for name in CLASS_METRICS}, "per_class_recall": {},
                "confusion": {"classes": list(classes), "counts": []}}
    for name, fn in CLASS_METRICS.items():
        out[name] = {"value": fn(labels, preds), "ci95": bootstrap_ci(labels, preds, fn, n_boot, seed)}
    m = confusion(labels, preds, len(classes))
    out["per_class_recall"] = {c: (float(m[i, i] / m[i].sum()) if m[i].sum() else None) for i, c in enumerate(classes)}
    out["confusion"] = {"classes": list(classes), "counts": m.tolist()}
    return out


def figures(res: dict) -> dict:
    """The headline numbers of one split's scores (evaluate.score, class_scores under `categories`): CCC per dimension and mean; UA, WA, macro-F1."""
    out = {d: res[d]["ccc"] for d in (*DIMS, "mean") if d in res}
    c = res.get("categories") or {}
    return {**out, **{k: c[k]["value"] for k in ("ua", "wa", "macro_f1") if k in c}}
