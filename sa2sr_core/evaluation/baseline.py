"""The classical baseline every SER paper reports: a linear model on utterance functionals.

Ridge regression, one per dimension, on the 84 functionals of *unnormalised* LFBE that `features` stores with
every utterance (sa2sr_core.features.functionals: mean and sd per mel bin over the louder 70% of frames, three frame-
energy percentiles, log duration). Inputs are standardised with the training set's mean and sd; the
regulariser is chosen per dimension on the Development split (CCC), then the model is refitted on Train
alone, so no test split takes part in any choice. Utterances are filtered exactly as for the deep model
(`scan_emotion_split`), so both are scored on the same test utterances by the same CCC and bootstrap code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sa2sr_core.config.baseline import BaselineConfig
from sa2sr_core.evaluation.metrics import ccc, ccc_per_dim, softmax
from sa2sr_core.features.emotion import EmotionData, read_stats, scan_emotion_split, task_and_classes
from sa2sr_core.names import DIMS, class_column


@dataclass
class SplitData:
    ids: list[str]
    x: np.ndarray  # (N, K) functionals
    y: np.ndarray  # (N, 3) activation, valence, dominance


def split_data(split_dir, data: EmotionData) -> SplitData:
    """Functionals and targets of the utterances a scan of `split_dir` kept."""
    ids = list(data.avd)
    return SplitData(ids, read_stats(split_dir, ids).astype(np.float64),
                     np.stack([data.avd[u] for u in ids]).astype(np.float64))


def load_split(split_dir, cfg, min_frames: int) -> SplitData:
    """The utterances of `split_dir` the deep model would use (cfg: the label scale, e.g. a FinetuneConfig)."""
    return split_data(split_dir, scan_emotion_split(split_dir, cfg, min_frames))


class Ridge:
    """Closed-form ridge on standardised inputs; the intercept is not penalised."""

    def __init__(self, alpha: float):
        self.alpha = alpha

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Ridge":
        self.mu, self.sd = x.mean(0), np.maximum(x.std(0), 1e-8)
        z = (x - self.mu) / self.sd
        self.y0 = y.mean(0)
        a = z.T @ z + self.alpha * np.eye(z.shape[1])
        self.w = np.linalg.solve(a, z.T @ (y - self.y0))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mu) / self.sd) @ self.w + self.y0


@dataclass
class BaselineModel:
    alphas: dict[str, float]  # chosen per dimension on Development
    dev_ccc: dict[str, float]
    models: list[Ridge]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.stack([m.predict(x) for m in self.models], axis=1)  # (N, 3)


def fit_baseline(train: SplitData, dev: SplitData, cfg: BaselineConfig) -> BaselineModel:
    alphas, dev_ccc, models = {}, {}, []
    for i, dim in enumerate(DIMS):
        scores = [(ccc(dev.y[:, i], Ridge(a).fit(train.x, train.y[:, i]).predict(dev.x)), a) for a in cfg.alphas]
        best, alpha = max(scores, key=lambda t: (t[0], t[1]))  # ties: the stronger regulariser
        alphas[dim], dev_ccc[dim] = float(alpha), float(best)
        models.append(Ridge(alpha).fit(train.x, train.y[:, i]))
    dev_ccc["mean"] = float(np.mean([dev_ccc[d] for d in DIMS]))
    return BaselineModel(alphas, dev_ccc, models)


def predictions_frame(split: str, data: SplitData, preds: np.ndarray) -> pd.DataFrame:
    """The same columns as the deep model's predictions (evaluate stage)."""
    return pd.DataFrame({"utt_id": data.ids, "split": split,
                         **{f"true_{d}": data.y[:, i] for i, d in enumerate(DIMS)},
                         **{f"pred_{d}": preds[:, i] for i, d in enumerate(DIMS)}})


def summary(model: BaselineModel, train: SplitData, test: dict[str, SplitData]) -> dict:
    out = {"model": "ridge regression per dimension on utterance functionals of unnormalised LFBE",
           "functionals": int(train.x.shape[1]), "train_utterances": len(train.ids),
           "alpha": model.alphas, "validation_ccc": model.dev_ccc}
    for split, d in test.items():
        out[split] = {"n": len(d.ids), **ccc_per_dim(model.predict(d.x), d.y)}
    return out


# ------------------------------------------------------------------------------ categories: logistic regression
@dataclass
class ClassData:
    ids: list[str]
    x: np.ndarray  # (N, K) functionals
    c: np.ndarray  # (N,) class index


def class_data(split_dir, data: EmotionData) -> ClassData:
    """Functionals and classes of the utterances with a category that a scan of `split_dir` kept."""
    ids = sorted(data.category)
    return ClassData(ids, read_stats(split_dir, ids).astype(np.float64) if ids else np.zeros((0, 0)),
                     np.array([data.category[u] for u in ids], np.int64))


class Logistic:
    """Multinomial logistic regression on standardised inputs: minimises the summed cross-entropy + lam/2 |W|^2
    (the intercept not penalised; sklearn's C = 1 / lam), full-batch L-BFGS in float64 (deterministic)."""

    def __init__(self, lam: float, num_classes: int, class_weight: np.ndarray | None = None):
        self.lam, self.num_classes, self.class_weight = lam, num_classes, class_weight

    def fit(self, x: np.ndarray, c: np.ndarray) -> "Logistic":
        import torch

        self.mu, self.sd = x.mean(0), np.maximum(x.std(0), 1e-8)
        z = torch.from_numpy((x - self.mu) / self.sd)
        y = torch.from_numpy(c)
        w = torch.zeros(z.shape[1], self.num_classes, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(self.num_classes, dtype=torch.float64, requires_grad=True)
        cw = None if self.class_weight is None else torch.from_numpy(self.class_weight.astype(np.float64))
        opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=500, tolerance_grad=1e-9, tolerance_change=1e-12,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(z @ w + b, y, weight=cw, reduction="sum") \
                + 0.5 * self.lam * (w ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.w, self.b = w.detach().numpy(), b.detach().numpy()
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(((x - self.mu) / self.sd) @ self.w + self.b)


@dataclass
class LogisticBaseline:
    lam: float  # chosen on Development (UA)
    dev_ua: float
    model: Logistic
    classes: tuple[str, ...]


def balanced_weights(c: np.ndarray, num_classes: int) -> np.ndarray:
    """Inverse class frequency, normalised to mean 1 over the classes present."""
    counts = np.bincount(c, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max(1, (counts > 0).sum()), 0.0)
    return w


def fit_logistic(train: ClassData, dev: ClassData, cfg: BaselineConfig, classes: tuple[str, ...],
                 class_balanced: bool = False) -> LogisticBaseline:
    """The regulariser (params baseline.alphas as lam) chosen on Development unweighted accuracy, then refitted
    on Train alone (ties: the stronger regulariser)."""
    from sa2sr_core.evaluation.metrics import unweighted_accuracy

    k = len(classes)
    cw = balanced_weights(train.c, k) if class_balanced else None
    scores = [(unweighted_accuracy(dev.c, Logistic(a, k, cw).fit(train.x, train.c).predict_proba(dev.x).argmax(1)), a)
              for a in cfg.alphas]
    best, lam = max(scores, key=lambda t: (t[0], t[1]))
    return LogisticBaseline(float(lam), float(best), Logistic(lam, k, cw).fit(train.x, train.c), classes)


def class_predictions_frame(split: str, data: ClassData, model: LogisticBaseline) -> pd.DataFrame:
    """The same category columns as the deep model's predictions."""
    probs = model.model.predict_proba(data.x) if len(data.ids) else np.zeros((0, len(model.classes)))
    return pd.DataFrame({"utt_id": data.ids, "split": split,
                         "category": [model.classes[i] for i in data.c],
                         "pred_category": [model.classes[i] for i in probs.argmax(1)] if len(data.ids) else [],
                         **{class_column(c): probs[:, i] for i, c in enumerate(model.classes)}})


def fit_fold(parts: dict, cfg: BaselineConfig, ft_cfg, min_frames: int, own_corpus: bool) -> tuple[list, dict]:
    """The baselines of one partition: parts = {train: dir(s), validation: dir(s), <test split>: dir, ...}; the
    ridge (A/V/D) and/or the logistic regression (classes) as fine-tuning's task has them, fitted on train with the
    regulariser chosen on validation. Returns (test prediction frames, summary). Test splits without features
    (every file rejected) are left out."""
    from pathlib import Path

    task, classes = task_and_classes(ft_cfg.task, own_corpus, parts["train"])
    parts = {s: d for s, d in parts.items() if s in ("train", "validation") or Path(d).is_dir()}
    scans = {s: scan_emotion_split(d, ft_cfg, min_frames, task, classes) for s, d in parts.items()}
    tests = [s for s in parts if s not in ("train", "validation")]
    frames, out = [], {"task": task}
    if task in ("dimensions", "both"):
        data = {s: split_data(parts[s], scans[s]) for s in parts}
        model = fit_baseline(data["train"], data["validation"], cfg)
        frames += [predictions_frame(s, data[s], model.predict(data[s].x)) for s in tests]
        out.update(summary(model, data["train"], {s: data[s] for s in tests}))
    if classes:
        data = {s: class_data(parts[s], scans[s]) for s in parts}
        model = fit_logistic(data["train"], data["validation"], cfg, classes, ft_cfg.class_balanced)
        frames += [class_predictions_frame(s, data[s], model) for s in tests]
        out["categories"] = {"model": "multinomial logistic regression on the same functionals", "classes": list(classes),
                             "lambda": model.lam, "validation_ua": model.dev_ua,
                             "train_utterances": len(data["train"].ids)}
    return frames, out
