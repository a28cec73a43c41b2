"""The metrics leaf: classification metrics (scikit-learn) on a known case and against their definitions, AUC with
ties, CCC, CER and the bootstrap interval."""

import numpy as np
import pytest

from sa2sr_core.metrics import (binary_auc, bootstrap_ci, ccc, cer, class_scores, confusion, macro_auc, macro_f1,
                                unweighted_accuracy, weighted_average_recall)


def test_ua_wa_macro_f1_and_confusion_on_a_known_case():
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 0, 0, 0, 0, 0, 2, 1])  # class 0 always right, 1 never, 2 half
    assert unweighted_accuracy(y, p) == pytest.approx((1 + 0 + 0.5) / 3)
    f1_0, f1_1, f1_2 = 2 * 6 / (12 + 2), 0.0, 2 * 1 / (2 + 0 + 1)
    assert macro_f1(y, p) == pytest.approx((f1_0 + f1_1 + f1_2) / 3)
    assert confusion(y, p, 3).tolist() == [[6, 0, 0], [2, 0, 0], [0, 1, 1]]
    s = class_scores(y, p, ("a", "b", "c"), n_boot=200)
    assert s["wa"]["value"] == pytest.approx(0.7) and s["n"] == 10
    assert s["ua"]["ci95"][0] <= s["ua"]["value"] <= s["ua"]["ci95"][1]
    assert s["per_class_recall"] == {"a": 1.0, "b": 0.0, "c": 0.5}


def test_ua_counts_only_the_classes_present_and_f1_every_class_seen():
    y, p = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])  # class 2 predicted but absent from the labels
    assert unweighted_accuracy(y, p) == pytest.approx((0.5 + 1.0) / 2)
    assert macro_f1(y, p) == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)
    assert weighted_average_recall(y, p) == 0.75
    assert np.isnan(unweighted_accuracy(np.array([]), np.array([])))


def test_auc_is_the_rank_statistic_with_ties_counted_half():
    y = np.array([1, 0, 1, 0, 1])
    s = np.array([0.9, 0.9, 0.5, 0.1, 0.1])
    pairs = [(a, b) for a in s[y == 1] for b in s[y == 0]]
    expected = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs])
    assert binary_auc(y, s) == pytest.approx(expected)
    assert np.isnan(binary_auc(np.ones(3), np.arange(3)))
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    assert macro_auc(np.array([0, 1, 0, 1]), probs) == 1.0


def test_ccc_cer_and_the_bootstrap_interval():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert ccc(y, y) == pytest.approx(1.0) and ccc(y, y + 1) < 1.0 and ccc(y, -y) < 0
    assert cer(["abcd"], ["abed"]) == pytest.approx(0.25)
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    lo, hi = bootstrap_ci(t, t + rng.normal(0, 0.5, 200), ccc, n=200)
    assert lo < ccc(t, t + 0) and lo < hi < 1.0


def test_a_split_with_nothing_to_score_says_so():
    s = class_scores(np.zeros(0, int), np.zeros(0, int), ("a", "b"))
    assert s["n"] == 0 and s["ua"] == {"value": None, "ci95": None}
