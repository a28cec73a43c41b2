"""A cross-validation's figures: per fold, their mean ± sd, and the pooled set (model and baseline), and the
compact DVC metric made of them."""

import numpy as np
import pandas as pd
import pytest

from sa2sr_core.corpora.finetuning import iemocap_fold
from sa2sr_core.evaluation.evaluate import compact_scores, cross_validation, score_predictions
from sa2sr_core.evaluation.tables import cross_validation_table
from sa2sr_core.metrics import ccc, unweighted_accuracy
from sa2sr_core.names import DIMS


def _predictions(rng, split, n, classes):
    t = rng.uniform(1, 5, (n, 3))
    p = t + rng.normal(0, 0.8, (n, 3))
    cat = rng.integers(0, len(classes), n)
    pred = np.where(rng.random(n) < 0.6, cat, rng.integers(0, len(classes), n))
    return pd.DataFrame({"utt_id": [f"{split}_{i}" for i in range(n)], "split": split,
                         **{f"true_{d}": t[:, i] for i, d in enumerate(DIMS)},
                         **{f"pred_{d}": p[:, i] for i, d in enumerate(DIMS)},
                         "category": [classes[c] for c in cat], "pred_category": [classes[c] for c in pred]})


def test_cross_validation_figures_are_per_fold_their_mean_and_sd_and_the_pooled_set():
    rng, classes = np.random.default_rng(0), ("angry", "happy", "neutral", "sad")
    folds = [iemocap_fold(k) for k in range(1, 6)]
    preds = pd.concat([_predictions(rng, f.tests[0], 40 + 5 * k, classes) for k, f in enumerate(folds)],
                      ignore_index=True)
    results = score_predictions(preds, 50, 0, classes)
    cv = cross_validation(folds, results, preds, 50, 0, classes)
    per = [cv["folds"][f.name] for f in folds]
    assert [p["test"] for p in per] == [f"session{k}" for k in range(1, 6)]
    assert per[0]["development"] == "session2" and per[0]["train"] == ["session3", "session4", "session5"]
    for key in ("valence", "mean", "ua", "macro_f1"):
        vals = [p[key] for p in per]
        assert cv["folds_mean"][key] == pytest.approx(np.mean(vals))
        assert cv["folds_sd"][key] == pytest.approx(np.std(vals, ddof=1)) and cv["folds_sd"][key] > 0
    g = preds.sort_values("utt_id")
    assert cv["pooled"]["valence"]["ccc"] == pytest.approx(ccc(g["true_valence"], g["pred_valence"]))
    idx = {c: i for i, c in enumerate(classes)}
    assert cv["pooled"]["categories"]["ua"]["value"] == pytest.approx(
        unweighted_accuracy(g["category"].map(idx).to_numpy(), g["pred_category"].map(idx).to_numpy()))
    assert cv["pooled"]["n"] == len(preds)
    ev = {"data": "demo", "splits": results, "cross_validation": cv,
          "baseline": {"splits": results, "cross_validation": cv}}
    compact = compact_scores(ev)
    assert compact["folds_mean"]["ua"] == round(cv["folds_mean"]["ua"], 4)
    assert set(compact["pooled"]) == {*DIMS, "mean", "ua", "wa", "macro_f1"}
    assert "folds_sd" in compact["baseline"] and "cross_validation" not in compact
    table = "\n".join(cross_validation_table(ev))
    assert "| fold-1 | session1 / session2 | SA2SR |" in table and "**mean ± sd**" in table
    assert f"{cv['folds_mean']['ua']:.3f} ± {cv['folds_sd']['ua']:.3f}" in table and "**pooled**" in table
