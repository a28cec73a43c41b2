"""The classical models (scikit-learn): ridge against least squares and against the closed form the project used
before scikit-learn, the regulariser chosen on Development, logistic regression on separable classes, class weights."""

import numpy as np
import pytest

from sa2sr_core.config.baseline import BaselineConfig
from sa2sr_core.evaluation.baseline import class_predictions_frame
from sa2sr_core.evaluation.evaluate import score_predictions
from sa2sr_core.metrics import ccc
from sa2sr_core.models.classical import (ClassData, RidgeBaseline, SplitData, balanced_weights, fit_logistic, fit_ridge,
                                         logistic, ridge)


def test_ridge_matches_least_squares_and_shrinks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)) * [1, 10, 0.1, 3, 1] + 4
    y = x @ [1.0, -0.2, 5.0, 0.0, 0.5] + 2 + 0.1 * rng.normal(size=200)
    z = (x - x.mean(0)) / x.std(0)
    w, *_ = np.linalg.lstsq(np.c_[z, np.ones(200)], y, rcond=None)
    r = ridge(1e-9).fit(x, y)
    np.testing.assert_allclose(r[-1].coef_, w[:5], rtol=1e-6)
    np.testing.assert_allclose(r.predict(x), np.c_[z, np.ones(200)] @ w, atol=1e-6)
    assert np.abs(ridge(1e4).fit(x, y)[-1].coef_).sum() < 0.2 * np.abs(r[-1].coef_).sum()


def test_ridge_equals_the_closed_form_on_standardised_inputs():
    """What the committed figures were made with: (Z'Z + a I) w = Z'(y - mean y), intercept unpenalised."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(80, 12)) * rng.uniform(0.1, 10, 12), rng.normal(size=80)
    z = (x - x.mean(0)) / x.std(0)
    for a in (0.01, 3.0, 1e4):
        w = np.linalg.solve(z.T @ z + a * np.eye(12), z.T @ (y - y.mean()))
        r = ridge(a).fit(x, y)
        np.testing.assert_allclose(r[-1].coef_, w, rtol=1e-9, atol=1e-12)
        assert r[-1].intercept_ == pytest.approx(y.mean(), abs=1e-12)


def _split(rng, n, w):
    x = rng.normal(size=(n, 6))
    return SplitData([f"u{i}" for i in range(n)], x, np.stack([x @ wi + rng.normal(0, s, n) for wi, s in w], 1))


def test_regulariser_is_chosen_on_development_per_dimension():
    """Dimension 0 is learnable (little regularisation wins), dimension 2 is pure noise (the strongest wins)."""
    rng = np.random.default_rng(1)
    w = [(np.array([1, 2, 0, 0, 0, 0.5]), 0.3), (np.array([0.2, 0, 0, 0, 0, 0]), 1.0), (np.zeros(6), 1.0)]
    train, dev = _split(rng, 40, w), _split(rng, 200, w)
    m = fit_ridge(train, dev, BaselineConfig(alphas=[0.01, 1.0, 100.0, 1e6]))
    assert m.alphas["activation"] <= 1.0 and m.dev_ccc["activation"] > 0.9
    test = _split(rng, 300, w)
    assert ccc(test.y[:, 0], m.predict(test.x)[:, 0]) > 0.9
    assert set(m.alphas) == {"activation", "valence", "dominance"} and "mean" in m.dev_ccc
    mu, sd, weight, bias = m.linear()  # the one linear map fine-tuning's regressor starts from
    np.testing.assert_allclose(((test.x - mu) / sd) @ weight.T + bias, m.predict(test.x), atol=1e-10)
    assert isinstance(m, RidgeBaseline) and weight.shape == (3, 6)


def test_the_logistic_baseline_separates_separable_classes_and_picks_its_regulariser_on_development():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 5))

    def data(n):
        c = np.repeat(np.arange(3), n)
        return ClassData([f"u{i}" for i in range(len(c))], centres[c] + rng.normal(0, 0.5, (len(c), 5)), c)

    train, dev, test = data(20), data(10), data(10)
    model = fit_logistic(train, dev, BaselineConfig(alphas=[0.01, 1.0, 100.0, 1e6]), ("x", "y", "z"))
    assert model.dev_ua == 1.0 and model.lam == 1e6  # every value separates them: ties go to the strongest
    frame = class_predictions_frame("test", test, model)
    assert (frame["category"] == frame["pred_category"]).mean() == 1.0
    assert np.allclose(frame[["p_class_x", "p_class_y", "p_class_z"]].sum(axis=1), 1.0)
    scored = score_predictions(frame, 100, 0, ("x", "y", "z"))
    assert scored["test"]["categories"]["ua"]["value"] == 1.0 and scored["test"]["n"] == 30


def test_the_logistic_objective_is_the_penalised_summed_cross_entropy():
    """C = 1 / lam on the summed loss: the fitted weights make the objective's gradient vanish."""
    rng = np.random.default_rng(2)
    x, c = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    lam = 2.0
    m = logistic(lam).fit(x, c)
    z = (x - x.mean(0)) / x.std(0)
    w, b = m[-1].coef_.T, m[-1].intercept_  # (4, 3), (3,)
    p = np.exp(z @ w + b)
    p /= p.sum(1, keepdims=True)
    grad_w = z.T @ (p - np.eye(3)[c]) + lam * w
    grad_b = (p - np.eye(3)[c]).sum(0)
    assert np.abs(grad_w).max() < 1e-4 and np.abs(grad_b).max() < 1e-4


def test_class_weights_are_inverse_frequency_and_reach_the_model():
    assert balanced_weights(np.array([0, 0, 0, 1]), 2).tolist() == pytest.approx([2 / 3, 2.0])
    rng = np.random.default_rng(4)
    x = np.r_[rng.normal(0, 1, (90, 2)), rng.normal(1, 1, (10, 2))]
    c = np.r_[np.zeros(90, int), np.ones(10, int)]
    plain = logistic(1.0).fit(x, c).predict(x)
    weighted = logistic(1.0, balanced_weights(c, 2)).fit(x, c).predict(x)
    assert weighted.sum() > plain.sum()  # the rare class is predicted more often once weighted up
