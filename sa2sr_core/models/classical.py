"""The classical models every SER paper reports beside its network, as scikit-learn estimators on the utterance
functionals of unnormalised LFBE (sa2sr_core.features.functionals): ridge regression per dimension (A/V/D) and
multinomial logistic regression (emotion classes). Inputs are standardised with the training set's mean and sd
(StandardScaler); the regulariser is chosen on Development (CCC per dimension; unweighted accuracy), then the
model is refitted on Train alone, so no test split takes part in any choice. The `baseline` stage scores them;
fine-tuning starts the regressor's linear path from the ridge (training.finetune)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sa2sr_core.config.baseline import BaselineConfig
from sa2sr_core.features.emotion import EmotionData, read_inputs
from sa2sr_core.metrics import ccc, unweighted_accuracy
from sa2sr_core.names import DIMS


@dataclass
class SplitData:
    ids: list[str]
    x: np.ndarray  # (N, K) functionals
    y: np.ndarray  # (N, 3) activation, valence, dominance


def split_data(data: EmotionData, stats: bool = True, text: bool = True) -> SplitData:
    """Side inputs (functionals, and text features where the scan's table has them; sa2sr_core.features.emotion.
    read_inputs) and A/V/D targets of the utterances a scan kept (read from the scan's table, not again)."""
    ids = list(data.avd)
    return SplitData(ids, read_inputs(data, ids, stats, text).astype(np.float64),
                     np.stack([data.avd[u] for u in ids]).astype(np.float64) if ids else np.zeros((0, 3)))


def ridge(alpha: float) -> Pipeline:
    """Closed-form ridge on standardised inputs; the intercept is not penalised."""
    return make_pipeline(StandardScaler(), Ridge(alpha=alpha, solver="cholesky"))


@dataclass
class RidgeBaseline:
    alphas: dict[str, float]  # chosen per dimension on Development
    dev_ccc: dict[str, float]
    models: list[Pipeline]  # one per dimension

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.stack([m.predict(x) for m in self.models], axis=1)  # (N, 3)

    def linear(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(mean (K,), sd (K,), weight (3, K), bias (3,)): the three ridges as one linear map of the standardised
        functionals (they share the training set's standardisation)."""
        scaler = self.models[0][0]
        return (scaler.mean_, scaler.scale_, np.stack([m[-1].coef_ for m in self.models]),
                np.array([m[-1].intercept_ for m in self.models]))


def fit_ridge(train: SplitData, dev: SplitData, cfg: BaselineConfig) -> RidgeBaseline:
    alphas, dev_ccc, models = {}, {}, []
    for i, dim in enumerate(DIMS):
        scores = [(ccc(dev.y[:, i], ridge(a).fit(train.x, train.y[:, i]).predict(dev.x)), a) for a in cfg.alphas]
        best, alpha = max(scores, key=lambda t: (t[0], t[1]))  # ties: the stronger regulariser
        alphas[dim], dev_ccc[dim] = float(alpha), float(best)
        models.append(ridge(alpha).fit(train.x, train.y[:, i]))
    dev_ccc["mean"] = float(np.mean([dev_ccc[d] for d in DIMS]))
    return RidgeBaseline(alphas, dev_ccc, models)


@dataclass
class ClassData:
    ids: list[str]
    x: np.ndarray  # (N, K) functionals
    c: np.ndarray  # (N,) class index


def class_data(data: EmotionData, stats: bool = True, text: bool = True) -> ClassData:
    """Side inputs (as split_data) and classes of the utterances with a category that a scan kept."""
    ids = sorted(data.category)
    return ClassData(ids, read_inputs(data, ids, stats, text).astype(np.float64) if ids else np.zeros((0, 0)),
                     np.array([data.category[u] for u in ids], np.int64))


def balanced_weights(c: np.ndarray, num_classes: int) -> np.ndarray:
    """Inverse class frequency, normalised to mean 1 over the classes present."""
    counts = np.bincount(c, minlength=num_classes).astype(np.float64)
    return np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max(1, (counts > 0).sum()), 0.0)


def logistic(lam: float, class_weight: np.ndarray | None = None) -> Pipeline:
    """Multinomial logistic regression on standardised inputs minimising the summed (class-weighted)
    cross-entropy + lam/2 |W|^2, the intercept not penalised (C = 1 / lam), L-BFGS."""
    cw = None if class_weight is None else {k: float(w) for k, w in enumerate(class_weight) if w > 0}
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0 / lam, class_weight=cw, max_iter=1000,
                                                              tol=1e-8))


@dataclass
class LogisticBaseline:
    lam: float  # chosen on Development (UA)
    dev_ua: float
    model: Pipeline
    classes: tuple[str, ...]

    def linear(self, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weight (C, K), bias (C,)): the class logits as a linear map of z = (x - mean) / std, another
        standardisation than the model's own (the regressor's buffers); softmax of them is predict_proba. A class
        Train lacks gets a logit far below the rest."""
        scaler, lr = self.model[0], self.model[-1]
        w, b = lr.coef_, lr.intercept_
        if w.shape[0] == 1:  # scikit-learn's binary case: one log-odds row for classes_[1]
            w, b = np.concatenate([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2])
        w_z = w * (std / scaler.scale_)[None, :]  # (C', K) on z
        b_z = b + w @ ((mean - scaler.mean_) / scaler.scale_)
        weight, bias = np.zeros((len(self.classes), len(mean))), np.full(len(self.classes), b_z.min() - 30.0)
        weight[lr.classes_], bias[lr.classes_] = w_z, b_z
        return weight, bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(N, len(classes)) probabilities (a class Train lacks: 0)."""
        out = np.zeros((len(x), len(self.classes)))
        if len(x):
            out[:, self.model[-1].classes_] = self.model.predict_proba(x)
        return out


def fit_logistic(train: ClassData, dev: ClassData, cfg: BaselineConfig, classes: tuple[str, ...],
                 class_balanced: bool = False) -> LogisticBaseline:
    """The regulariser (params baseline.alphas as lam) chosen on Development unweighted accuracy, then refitted
    on Train alone (ties: the stronger regulariser)."""
    cw = balanced_weights(train.c, len(classes)) if class_balanced else None

    def dev_ua(lam: float) -> float:
        m = LogisticBaseline(lam, 0.0, logistic(lam, cw).fit(train.x, train.c), classes)
        return unweighted_accuracy(dev.c, m.predict_proba(dev.x).argmax(1))

    best, lam = max(((dev_ua(a), a) for a in cfg.alphas), key=lambda t: (t[0], t[1]))
    return LogisticBaseline(float(lam), float(best), logistic(lam, cw).fit(train.x, train.c), classes)
