"""Late fusion of the text route (finetune.text.fusion late, docs/text.md "Fusion"): the emotion model's outputs are
the speech-only network's and the text-only baseline's, mixed per output with weights chosen on Development.

    before training: the text head <- the text-only baselines (ridge per dimension, logistic for classes; their
                     regularisers chosen on Development), frozen; the mixing weights at 0, so the acoustic half
                     trains, and is selected, exactly as a speech-only model
    after training:  on Development, the selected model's outputs with the weights at 0 (acoustic) and at 1 (text);
                     y(w) = (1 - w) y_0 + w y_1, each dimension's w from a grid by Development CCC (the class
                     logits' one w by Development UA); ties keep the smaller w (the sound)

Nothing of a test split takes part; the figures of both halves and of the mix are returned for the summary.
"""

from __future__ import annotations

import numpy as np
import torch

from sa2sr_core.config.baseline import BaselineConfig
from sa2sr_core.features.emotion import EmotionData
from sa2sr_core.metrics import ccc, unweighted_accuracy
from sa2sr_core.models.classical import class_data, fit_logistic, fit_ridge, split_data
from sa2sr_core.models.regressor import EmotionModel
from sa2sr_core.models.run import predict_split
from sa2sr_core.names import DIMS

#: The mixing weights Development chooses among (0: the sound alone, 1: the words alone).
GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def start_text_head(model: EmotionModel, train_data: EmotionData, valid_data: EmotionData,
                    baseline_cfg: BaselineConfig, dims: bool, classes: tuple[str, ...], class_balanced: bool,
                    log=print) -> dict:
    """Set the late-fusion text head to the text-only baselines fitted on Train (regulariser on Development), and
    freeze it; returns their Development figures."""
    reg = model.regressor
    out = {}
    if dims:
        base = fit_ridge(split_data(train_data, stats=False, text=True),
                         split_data(valid_data, stats=False, text=True), baseline_cfg)
        mean, std, w, b = base.linear()
        out["ccc"] = base.dev_ccc
    else:  # classes only: the text standardised as the logistic reads it
        x = class_data(train_data, stats=False, text=True).x
        mean, std = x.mean(0), np.where(x.std(0) > 0, x.std(0), 1.0)
        w, b = np.zeros((reg.cfg.outputs, len(mean))), np.zeros(reg.cfg.outputs)
    cw = cb = None
    if classes:
        logit = fit_logistic(class_data(train_data, stats=False, text=True),
                             class_data(valid_data, stats=False, text=True), baseline_cfg, classes, class_balanced)
        cw, cb = logit.linear(mean, std)
        out["ua"] = logit.dev_ua
    as_t = lambda a: None if a is None else torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    reg.start_text_head(as_t(mean), as_t(std), as_t(w), as_t(b), as_t(cw), as_t(cb))
    for name in ("text_linear", "text_classify"):
        if hasattr(reg, name):
            getattr(reg, name).requires_grad_(False)
    log("late fusion: the text head is the text-only baseline (Development "
        + ", ".join(f"{k} {v:.3f}" for k, v in {**out.get("ccc", {}), **({"UA": out["ua"]} if "ua" in out else {})}.items())
        + "); its weights are chosen on Development after training")
    return out


def _best(score, grid=GRID) -> tuple[float, float]:
    """(w, score(w)) maximising score over the grid; the first (smallest) w on ties."""
    scores = [score(w) for w in grid]
    i = int(np.argmax(scores))
    return float(grid[i]), float(scores[i])


def choose_text_weights(model: EmotionModel, valid, device, dims: bool, classes: tuple[str, ...], log=print) -> dict:
    """Choose the mixing weights on Development (`valid`: its dataset) and set them in `model`; returns the weights
    and the Development figures of the acoustic half, the text half and the mix."""
    reg = model.regressor
    C = len(classes)
    halves = []
    for w in (0.0, 1.0):
        reg.set_text_weights(torch.full((reg.cfg.outputs,), w, device=reg.text_weight.device), w)
        _, out, targets, cats = predict_split(model, valid, device, with_categories=True)
        halves.append(out)
    y0, y1 = halves
    weights, report = [0.0] * reg.cfg.outputs, {}
    if dims:
        m = ~np.isnan(targets).any(axis=1)
        for d, name in enumerate(DIMS):
            t = targets[m, d]
            weights[d], fused = _best(lambda w: ccc((1 - w) * y0[m, d] + w * y1[m, d], t))
            report[name] = {"weight": weights[d], "acoustic": float(ccc(y0[m, d], t)), "text": float(ccc(y1[m, d], t)),
                            "fused": fused}
    class_w = 0.0
    if C:
        m = cats >= 0
        L0, L1, c = y0[m, 3:], y1[m, 3:], cats[m]
        ua = lambda w: unweighted_accuracy(c, ((1 - w) * L0 + w * L1).argmax(1))  # noqa: E731
        class_w, fused = _best(ua)
        report["classes"] = {"weight": class_w, "acoustic": float(ua(0.0)), "text": float(ua(1.0)), "fused": fused}
    reg.set_text_weights(torch.tensor(weights, dtype=torch.float32, device=reg.text_weight.device), class_w)
    log("late fusion, Development: " + "; ".join(
        f"{k} w {r['weight']:.2f} (sound {r['acoustic']:.3f}, words {r['text']:.3f} -> {r['fused']:.3f})"
        for k, r in report.items()))
    return report
